"""Pruning what nothing else deletes, on a schedule (Celery beat ``tasks.prune``).

:data:`PRUNERS` is the one list of what is pruned: each entry names a function
``(now) -> rows deleted`` by its dotted path; another app adds its own line
(sessions, say) without touching the task. Each pruner reads its bound from
settings (DASHBOARD_RETAIN_*_DAYS) and runs on its own: one that fails is
logged and the others still run.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.utils.module_loading import import_string

from tasks.models import AuditEntry, Job, JobState

log = logging.getLogger(__name__)

PRUNERS: tuple[str, ...] = (
    "topology.retention.prune_report_changes",
    "topology.history.retention.prune_history",
    "tasks.retention.prune_audit_entries",
    "tasks.retention.prune_jobs",
)


def prune_audit_entries(now: datetime) -> int:
    """Delete audit entries older than RETAIN_AUDIT_DAYS."""
    bound = now - timedelta(days=settings.RETAIN_AUDIT_DAYS)
    deleted, _ = AuditEntry.objects.filter(at__lt=bound).delete()
    return deleted


def prune_jobs(now: datetime) -> int:
    """Delete jobs finished more than RETAIN_JOBS_DAYS ago (their audit entries stay, job unset).

    An unfinished job is never pruned here: the reaper ends it first (tasks.reaper).
    """
    bound = now - timedelta(days=settings.RETAIN_JOBS_DAYS)
    deleted = Job.objects.filter(state__in=JobState.FINISHED, finished_at__lt=bound).delete()[1]
    return deleted.get(Job._meta.label, 0)


def prune_all(now: datetime) -> dict[str, int]:
    """Run every pruner of PRUNERS; rows deleted by each (-1: it failed, see the log)."""
    counts: dict[str, int] = {}
    for path in PRUNERS:
        try:
            counts[path] = int(import_string(path)(now))
        except Exception:  # one broken pruner must not keep the others' tables growing
            log.exception("pruning with %s failed", path)
            counts[path] = -1
    log.info("pruned: %s", counts)
    return counts
