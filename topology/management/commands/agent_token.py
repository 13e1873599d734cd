"""``python manage.py agent_token <host> [...]``: report tokens for node agents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from topology.models import AgentToken
from topology.services import hash_token, issue_agent_token


class Command(BaseCommand):
    help = (
        "Print a new token for the node agent of HOST (replacing its older one), or with --write-dir keep "
        "one token file per host in DIR, making a new token only where the file is missing or stale."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("hosts", nargs="+", help="host names the agents report as (Neutron's `host` option)")
        parser.add_argument("--write-dir", type=Path, help="keep the tokens in DIR/<host> (mode 0600)")

    def handle(self, *args: Any, **options: Any) -> None:
        directory: Path | None = options["write_dir"]
        for host in options["hosts"]:
            if directory is None:
                self.stdout.write(issue_agent_token(host))
                continue
            token_file = directory / host
            if self.still_valid(host, token_file):
                continue
            directory.mkdir(parents=True, exist_ok=True)
            token_file.touch(mode=0o600)
            token_file.write_text(issue_agent_token(host) + "\n")
            self.stdout.write(f"{host}: new token in {token_file}")

    @staticmethod
    def still_valid(host: str, token_file: Path) -> bool:
        """The file's token is the one the database knows for ``host`` (agents already use it)."""
        if not token_file.exists():
            return False
        token = token_file.read_text().strip()
        return AgentToken.objects.filter(host=host, token_sha256=hash_token(token)).exists()
