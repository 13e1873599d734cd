"""``python manage.py refresh_cloud``: collect the cloud now and re-join (what Celery beat does)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from topology.services import current_revision, refresh_cloud


class Command(BaseCommand):
    help = "Collect the cloud's logical state now (one list call per resource type) and re-join the graph."

    def handle(self, *args: Any, **options: Any) -> None:
        snapshot = refresh_cloud()
        self.stdout.write(
            f"{snapshot.cloud}: {snapshot.api_calls} API calls in {snapshot.duration:.2f} s, "
            f"graph revision {current_revision()}"
        )
