"""Retention of the topology app's history (run by tasks.retention's beat task)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from topology.models import HostReportChange


def prune_report_changes(now: datetime) -> int:
    """Delete the report-change history older than RETAIN_REPORT_CHANGES_DAYS; how many rows."""
    bound = now - timedelta(days=settings.RETAIN_REPORT_CHANGES_DAYS)
    deleted, _ = HostReportChange.objects.filter(received_at__lt=bound).delete()
    return deleted
