"""``python manage.py listen_notifications``: apply Neutron's notifications as they come (bin/run starts it)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from topology.notifications.apply import apply_plan
from topology.notifications.listener import listen


class Command(BaseCommand):
    help = (
        "Listen to Neutron's notifications (DASHBOARD_NOTIFICATIONS, an oslo.messaging transport URL) and "
        "re-read just the objects they name; runs until interrupted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="", help="the transport URL (default: DASHBOARD_NOTIFICATIONS)")

    def handle(self, *args: Any, **options: Any) -> None:
        url = options["url"] or settings.DASHBOARD_NOTIFICATIONS
        if not url:
            raise CommandError("DASHBOARD_NOTIFICATIONS is empty: notifications are off")
        try:
            listen(url, apply_plan)
        except KeyboardInterrupt:
            self.stdout.write("stopped")
