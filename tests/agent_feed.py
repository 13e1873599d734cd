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


def tail(path: Path, offset: int, lines: int = 25) -> str:
    """The last ``lines`` lines written to ``path`` after ``offset`` (this feed's own part of an appended log)."""
    try:
        with open(path, "rb") as log:
            log.seek(offset)
            text = log.read().decode(errors="replace")
    except OSError as exc:
        return f"({path.name}: {exc})"
    return "\n".join(text.splitlines()[-lines:]) or f"({path.name}: empty)"


def log_end(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start_daphne(env: dict[str, str], log: Path, deadline: float) -> tuple[subprocess.Popen[bytes], int]:
    """daphne on a free port, once it listens: on another port when it dies first (the port taken meanwhile)."""
    bindir = Path(sys.executable).parent
    while True:
        port = free_port()
        with open(log, "ab") as out:
            daphne = subprocess.Popen(
                [str(bindir / "daphne"), "-b", "127.0.0.1", "-p", str(port), "dashboard.asgi:application"],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=out,
            )
        while daphne.poll() is None and not listening(port) and time.monotonic() < deadline:
            time.sleep(0.5)
        if daphne.poll() is None:
            return daphne, port  # listening, or out of time: the caller's wait says which
        if time.monotonic() > deadline:
            raise RuntimeError(f"daphne exited with {daphne.returncode}:\n{tail(log, 0)}")


@contextmanager
def agent_feed(database: str, log_dir: Path, interval: float = 20.0) -> Iterator[str]:
    """daphne + the node agent of ``controller`` writing HostReport rows into sqlite ``database``.

    Returns once the first report is stored (or raises after 300 s, with both logs' last lines: CI keeps
    no artifacts); yields the report URL on that daphne.
    """
    from topology.models import HostReport
    from topology.services import issue_agent_token

    token = issue_agent_token(HOST)
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}"}
    log_dir.mkdir(parents=True, exist_ok=True)
    logs = {name: log_dir / f"{name}.log" for name in ("daphne", "agent")}
    offsets = {name: log_end(path) for name, path in logs.items()}
    # Generous: daphne took 35 s to listen in a CI run on 2 loaded cores; only a failure waits this long.
    deadline = time.monotonic() + 300
    daphne, port = start_daphne(env, logs["daphne"], deadline)
    url = f"http://127.0.0.1:{port}/api/v1/agents/report/"
    agent: subprocess.Popen[bytes] | None = None
    try:
        with open(logs["agent"], "ab") as out:
            # A refused report is sent again after 2 s, not the agent's 30 s doubling: a test waits here.
            command = ["--host", HOST, f"--token={token}", "--interval", str(interval), "--rejected-hold", "2"]
            agent = subprocess.Popen(
                [sys.executable, "-m", "topology.agent", *command, "--timeout", "90", "--url", url],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=out,
            )
        while not stored(HostReport, HOST):
            if time.monotonic() > deadline or agent.poll() is not None or daphne.poll() is not None:
                said = "\n".join(f"--- {name}.log:\n{tail(path, offsets[name])}" for name, path in logs.items())
                state = f"agent exit {agent.poll()}, daphne exit {daphne.poll()}"
                raise RuntimeError(f"no report from the {HOST} agent ({state}; {log_dir}):\n{said}")
            time.sleep(0.5)
        yield url
    finally:
        if agent is not None:
            stop_worker(agent, grace=20)
        stop_worker(daphne, grace=20)
