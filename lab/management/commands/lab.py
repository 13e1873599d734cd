"""python manage.py lab up [--scenario NAME] [--adopt] | scenario NAME | down | status [--json]
| exec HOST -- CMD... | ping VM TARGET [--timeout S]"""

from __future__ import annotations

import json
import logging
from argparse import REMAINDER, ArgumentParser
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
        up.add_argument(
            "--adopt",
            action="store_true",
            help="use the lab another checkout runs on this machine (refused without it)",
        )
        scenario = sub.add_parser("scenario", help="switch the running lab to another scenario")
        scenario.add_argument("name", choices=sorted(SCENARIOS))
        sub.add_parser("down", help="remove everything the lab made")
        status = sub.add_parser("status", help="clouds.yaml path, hosts, services, agents, VMs")
        status.add_argument("--json", action="store_true", help="the whole status as JSON")
        run = sub.add_parser("exec", help="run a command in a host's view: lab exec compute2 -- ip netns")
        run.add_argument("host")
        run.add_argument("argv", nargs=REMAINDER)
        ping = sub.add_parser("ping", help="ping from a VM (or outside, or HOST:NAMESPACE), with retries")
        ping.add_argument("vm")
        ping.add_argument("target")
        ping.add_argument("--timeout", type=float, default=90.0)

    def handle(self, *args: Any, **options: Any) -> None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        action = options["action"]
        try:
            if action in ("up", "scenario"):
                name = options["scenario"] if action == "up" else options["name"]
                state = api.up(name, adopt=options["adopt"]) if action == "up" else api.switch(name)
                self.stdout.write(f"lab up: scenario {state['scenario']}, {state['timings']}")
                self._print_status(api.status())
            elif action == "down":
                self.stdout.write(f"lab down in {api.down():.1f} s")
            elif action == "exec":
                argv = list(options["argv"])
                if argv[:1] == ["--"]:
                    argv = argv[1:]
                if not argv:
                    raise CommandError("lab exec HOST -- COMMAND...")
                code = api.run_on(options["host"], argv).returncode
                if code:
                    raise SystemExit(code)
            elif action == "ping":
                if not api.ping(options["vm"], options["target"], timeout=options["timeout"]):
                    raise CommandError(f"{options['vm']} got no reply from {options['target']}")
                self.stdout.write(f"{options['vm']} -> {options['target']}: reply")
            elif options["json"]:
                self.stdout.write(json.dumps(api.status(), indent=2, sort_keys=True))
            else:
                self._print_status(api.status())
        except (RuntimeError, ValueError) as e:
            raise CommandError(str(e)) from e

    def _print_status(self, s: dict[str, Any]) -> None:
        w = self.stdout.write
        w(f"status: {s['status']}" + (f" (scenario {s['scenario']})" if s.get("scenario") else ""))
        w(f"scenarios: {', '.join(s['scenarios'])}")
        w(f"clouds.yaml: {s['clouds_yaml'] or '-'}")
        w("hosts:")
        for name, h in s.get("lab_hosts", {}).items():
            agent = h["node_agent"]
            node = "running" if agent["running"] else ("no token" if not agent["token_file"] else "stopped")
            w(
                f"  {name:12} {'up' if h['alive'] else 'DOWN':5} tunnel {h.get('tunnel_ip') or '-':11} "
                f"L3 {h.get('l3_agent_mode') or '-':9} node agent {node}"
                + (f"  role: {h['role']}" if h.get("role") else "")
            )
        w("services:")
        for name, svc in s["services"].items():
            w(f"  {name:36} {'alive' if svc['alive'] else 'DOWN':6} pid {svc['pid'] or '-'}")
        w("agents:")
        for a in s["agents"]:
            w(f"  {a['agent_type']:28} {a['host']:12} {'alive' if a['alive'] else 'DEAD'}")
        w("VMs:")
        for name, vm in s.get("vms", {}).items():
            fip = f", floating IP {vm['floating_ip']}" if vm.get("floating_ip") else ""
            w(
                f"  {name:12} {vm.get('host', '-'):11} {vm['namespace']:16} "
                f"{s['vm_addresses'].get(name) or 'no address'}{fip}"
            )
        w(f"memory: {s['memory_mb']['rss']} MB RSS, {s['memory_mb']['pss']} MB PSS")
