"""``python manage.py monitor_ovn``: keep OVN's NB and SB open and put each change in the map (bin/run starts it)."""

from __future__ import annotations

import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from topology.ovn.monitor import OvnMonitor
from topology.ovn.monitor_apply import apply_ovn, write_state
from topology.services import ovn_remotes


class Command(BaseCommand):
    help = (
        "Monitor OVN's databases (OVN_NB_CONNECTION, OVN_SB_CONNECTION) and put each change in the cloud "
        "snapshot within a fraction of a second; runs until interrupted."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        remotes = ovn_remotes()
        if not remotes.configured:
            raise CommandError("OVN_NB_CONNECTION and OVN_SB_CONNECTION are empty: not an OVN cloud")
        stop = threading.Event()
        try:
            OvnMonitor(remotes, apply_ovn).run(stop, heartbeat=write_state)
        except KeyboardInterrupt:
            stop.set()
            self.stdout.write("stopped")
