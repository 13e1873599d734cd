"""The lab's node agent reporting into a given database, for tests and bench/confirm.py.

A real daphne (on a free port, on that database) receives the reports of a
real ``python -m topology.agent`` run in this machine's view (the allinone
scenario's only host, ``controller``), so the jobs' data-plane confirmation
reads what the agent saw. The token is issued in that database by the
caller's process (Django set up on it).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.test_actions_lab import stop_worker

REPO = Path(__file__).resolve().parent.parent
HOST = "controller"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stored(model: Any, host: str) -> bool:
    """Whether ``host``'s report row is there, read on a fresh connection: a connection left with an
    open read (SQLite's WAL snapshot) by earlier code in this process would not see daphne's commits."""
    from django.db import connection

    if not connection.in_atomic_block:
        connection.close()
    return bool(model.objects.filter(host=host).exists())


@contextmanager
def agent_feed(database: str, log_dir: Path, interval: float = 20.0) -> Iterator[str]:
    """daphne + the node agent of ``controller`` writing HostReport rows into sqlite ``database``.

    Returns once the first report is stored (or raises after 60 s); yields the report URL on that daphne.
    """
    from topology.models import HostReport
    from topology.services import issue_agent_token

    token = issue_agent_token(HOST)
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}"}
    bindir = Path(sys.executable).parent
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "daphne.log", "ab") as out:
        daphne = subprocess.Popen(
            [str(bindir / "daphne"), "-b", "127.0.0.1", "-p", str(port), "dashboard.asgi:application"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=out,
        )
    agent: subprocess.Popen[bytes] | None = None
    try:
        with open(log_dir / "agent.log", "ab") as out:
            agent = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "topology.agent",
                    "--host",
                    HOST,
                    "--token",
                    token,
                    "--interval",
                    str(interval),
                    "--url",
                    f"http://127.0.0.1:{port}/api/v1/agents/report/",
                ],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=out,
            )
        url = f"http://127.0.0.1:{port}/api/v1/agents/report/"
        # Generous: daphne took 35 s to listen in a CI run on 2 loaded cores.
        deadline = time.monotonic() + 180
        while not stored(HostReport, HOST):
            if time.monotonic() > deadline or agent.poll() is not None:
                raise RuntimeError(f"no report from the {HOST} agent (see {log_dir})")
            time.sleep(0.5)
        yield url
    finally:
        if agent is not None:
            stop_worker(agent, grace=20)
        stop_worker(daphne, grace=20)
