"""The dashboard's node agent (`python -m topology.agent`) on every host of the lab.

Started as a lab daemon per host when `var/lab/agent-tokens/<host>` exists
(the dashboard writes it with `manage.py agent_token` before `lab up`); run
in the host's view, so compute2's agent sees compute2's `ip netns` and
`ovs-vsctl`. It posts to LAB_AGENT_URL (default the dashboard on
127.0.0.1:8000) and retries while the dashboard is not up; from compute2 the
relay of lab/hosts.py carries that port to host 1's loopback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from lab import hosts, paths, procs
from lab.procs import Daemon

TOKENS_DIR = paths.LAB_DIR / "agent-tokens"
URL = os.environ.get("LAB_AGENT_URL", "http://127.0.0.1:8000/api/v1/agents/report/")


def token_file(host: str) -> Path:
    return TOKENS_DIR / host


def name(host: str) -> str:
    return f"topology-agent-{host}"


def _python() -> str:
    venv = paths.REPO_DIR / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def daemon(host: str, tunnel_ip: str | None = None) -> Daemon:
    argv = [_python(), "-m", "topology.agent", "--host", host, "--token-file", str(token_file(host)), "--url", URL]
    argv.append("--active-probes")  # a lab for learning: an admin's active check may send its one ping
    if tunnel_ip:
        argv += ["--tunnel-ip", tunnel_ip]
    # nsenter -m starts in /: the repository comes through PYTHONPATH.
    return Daemon(name(host), argv, env={"PYTHONPATH": str(paths.REPO_DIR)}, cwd=paths.REPO_DIR, stop_grace=3)


def start(host: str, tunnel_ip: str | None = None) -> bool:
    """Start `host`'s node agent if its token file exists; True when it runs."""
    if not token_file(host).exists():
        return False
    with procs.view(hosts.view(host)):
        procs.start(daemon(host, tunnel_ip))
    return True


def stop(*host_names: str) -> None:
    procs.stop(*(name(h) for h in host_names))


def all_names() -> list[str]:
    return [name(hosts.CONTROLLER), name(hosts.COMPUTE2)]
