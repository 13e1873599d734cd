"""``python manage.py agent_token <host>``: a new report token for a node agent."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from topology.services import issue_agent_token


class Command(BaseCommand):
    help = "Print a new token for the node agent of HOST (replaces the host's older token)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("host", help="the host name the agent reports as (Neutron's `host` option)")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(issue_agent_token(options["host"]))
