"""python manage.py lab up [--scenario allinone] | down | status [--json]"""

from __future__ import annotations

import json
import logging
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from lab import api
from lab.scenarios import SCENARIOS


class Command(BaseCommand):
    help = "Bring the lab cloud (real Keystone + Neutron + agents on loopback) up or down, or show it."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        up = sub.add_parser("up", help="install if needed, start everything, build a scenario")
        up.add_argument("--scenario", default="allinone", choices=sorted(SCENARIOS))
        sub.add_parser("down", help="remove everything the lab made")
        status = sub.add_parser("status", help="clouds.yaml path, services, agents, VMs")
        status.add_argument("--json", action="store_true", help="the whole status as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        action = options["action"]
        try:
            if action == "up":
                state = api.up(options["scenario"])
                self.stdout.write(f"lab up: scenario {state['scenario']}, {state['timings']}")
                self._print_status(api.status())
            elif action == "down":
                self.stdout.write(f"lab down in {api.down():.1f} s")
            elif options["json"]:
                self.stdout.write(json.dumps(api.status(), indent=2, sort_keys=True))
            else:
                self._print_status(api.status())
        except (RuntimeError, ValueError) as e:
            raise CommandError(str(e)) from e

    def _print_status(self, s: dict[str, Any]) -> None:
        w = self.stdout.write
        w(f"status: {s['status']}" + (f" (scenario {s['scenario']})" if s.get("scenario") else ""))
        w(f"clouds.yaml: {s['clouds_yaml'] or '-'}")
        w("services:")
        for name, svc in s["services"].items():
            w(f"  {name:28} {'alive' if svc['alive'] else 'DOWN':6} pid {svc['pid'] or '-'}")
        w("agents:")
        for a in s["agents"]:
            w(f"  {a['agent_type']:28} {a['host']:12} {'alive' if a['alive'] else 'DEAD'}")
        w("VMs:")
        for name, vm in s.get("vms", {}).items():
            fip = f", floating IP {vm['floating_ip']}" if vm.get("floating_ip") else ""
            w(f"  {name:12} {vm['namespace']:16} {s['vm_addresses'].get(name) or 'no address'}{fip}")
        w(f"memory: {s['memory_mb']['rss']} MB RSS, {s['memory_mb']['pss']} MB PSS")
