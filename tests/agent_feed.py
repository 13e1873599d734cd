"""The lab's node agent reporting into a given database, for tests and bench/confirm.py.

A real daphne (on a free port, on that database) receives the reports of a
real ``python -m topology.agent`` run in this machine's view (the allinone
scenario's only host, ``controller``), so the jobs' data-plane confirmation
reads what the agent saw. The token is issued in that database by the
caller's process (Django set up on it).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
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


def agent_command(host: str, token: str, url: str, interval: float, extra: tuple[str, ...] = ()) -> list[str]:
    # A refused report is sent again after 2 s, not the agent's 30 s doubling: a test waits here.
    command = ["--host", host, f"--token={token}", "--interval", str(interval), "--rejected-hold", "2", *extra]
    return [sys.executable, "-m", "topology.agent", *command, "--timeout", "90", "--url", url]


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
            agent = subprocess.Popen(
                agent_command(HOST, token, url, interval), cwd=REPO, env=env, stdout=out, stderr=out
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


@contextmanager
def lab_agents_feed(database: str, log_dir: Path, tunnel_ips: dict[str, str], interval: float = 20.0) -> Iterator[str]:
    """daphne + the node agent of every lab host (dvr: controller and compute2), each in its host's view.

    compute2's agent runs inside compute2's network and mount namespaces (lab.hosts.view) and reaches this
    daphne through a relay of this test's own (lab/scripts/netns_relay.py: compute2's 127.0.0.1:<port> to
    host 1's), as the lab's relay carries the dashboard's port 8000. Yields the report URL once every host's
    agent has stored a report (or raises after 300 s with the logs' last lines).
    """
    from lab import hosts
    from topology.models import HostReport
    from topology.services import issue_agent_token

    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "PYTHONPATH": str(REPO)}
    log_dir.mkdir(parents=True, exist_ok=True)
    logs = {name: log_dir / f"{name}.log" for name in ("daphne", "relay", *tunnel_ips)}
    offsets = {name: log_end(path) for name, path in logs.items()}
    deadline = time.monotonic() + 300
    daphne, port = start_daphne(env, logs["daphne"], deadline)
    url = f"http://127.0.0.1:{port}/api/v1/agents/report/"
    started: list[subprocess.Popen[bytes]] = [daphne]
    try:
        for host, tunnel_ip in tunnel_ips.items():
            view = hosts.view(host)
            prefix = [*view.prefix, f"--wd={REPO}"] if view else []
            if view is not None:
                holder = f"/proc/{hosts.holder_pid()}/ns/net"
                relay = [sys.executable, str(REPO / "lab" / "scripts" / "netns_relay.py"), holder, str(port)]
                with open(logs["relay"], "ab") as out:
                    started.append(subprocess.Popen(relay, cwd=REPO, stdout=out, stderr=out))
            command = agent_command(host, issue_agent_token(host), url, interval, ("--tunnel-ip", tunnel_ip))
            with open(logs[host], "ab") as out:
                # its own process group: nsenter does not pass a SIGTERM on to the agent it forked
                agent = subprocess.Popen(
                    [*prefix, *command], cwd=REPO, env=env, stdout=out, stderr=out, start_new_session=True
                )
                started.append(agent)
        while not all(stored(HostReport, host) for host in tunnel_ips):
            if time.monotonic() > deadline or any(p.poll() is not None for p in started):
                said = "\n".join(f"--- {name}.log:\n{tail(path, offsets[name])}" for name, path in logs.items())
                raise RuntimeError(f"no report from every lab host's agent ({log_dir}):\n{said}")
            time.sleep(0.5)
        yield url
    finally:
        for proc in reversed(started):
            stop_group(proc)


def stop_group(proc: subprocess.Popen[bytes], grace: float = 20) -> None:
    """Stop ``proc`` and, when it leads a process group of its own (an agent behind nsenter), that group."""
    if proc.poll() is None and os.getpgid(proc.pid) == proc.pid:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    stop_worker(proc, grace=grace)


@contextmanager
def fed_lab(
    state: dict[str, Any], log_dir: Path, warm: Iterable[tuple[str, str]], hosts: Sequence[str]
) -> Iterator[None]:
    """The lab as the tracers see it: real traffic first (``warm``: (sender, target) pings, so bridges learn
    and routers resolve ARP), then the node agent of every one of ``hosts`` reporting to a real daphne, its
    probe channel open, and the lab's join stored."""
    from django.conf import settings

    from lab import api
    from tests.test_probes_lab import wait_connected
    from tests.test_topology_dvr import joined

    for sender, target in warm:
        assert api.ping(sender, target, timeout=120), (sender, target)
    tunnel_ips = {h: str(state["hosts"][h]["tunnel_ip"]) for h in hosts}
    with lab_agents_feed(settings.DATABASES["default"]["NAME"], log_dir, tunnel_ips):
        for host in hosts:
            wait_connected(host)
        joined(state)
        yield
