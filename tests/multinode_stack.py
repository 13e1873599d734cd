"""More than one machine on loopback: a PostgreSQL and a Redis of the test's own, and the units'
processes of two "machines" (README "Running on more than one machine").

Each machine is a state directory of its own (``DASHBOARD_VAR_DIR``: its collected static files,
beat's schedule) with its own port; what they share is what machines share: the database
(``DATABASE_URL``), Redis (``REDIS_URL``: broker, Channels layer, the writer's work list and lease),
the secret key and the Channels prefix. Every process is started from its unit's ExecStart
(tests/deploy_stack.py), each in a process group of its own (so SIGKILL takes it whole).

PostgreSQL refuses to run as root: as the lab does it (lab/database.py), the cluster belongs
to the ``postgres`` user, in a directory of its own under /tmp that user can reach.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from lab.database import pg_bin
from tests import deploy_stack
from tests.deploy_stack import REPO, exec_start, free_port, production_env, stop, wait_port

DB_NAME, DB_USER, DB_PASSWORD = "neutron_map", "neutron_map", "multinode-test-pass"


def as_owner(argv: list[str]) -> list[str]:
    """Run as ``postgres`` when this is root (initdb and postgres refuse root)."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@dataclass
class OwnPostgres:
    """A PostgreSQL cluster of the test's own on 127.0.0.1 (initdb in a scratch directory)."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="multinode-pg-", dir="/tmp")))
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgres://{DB_USER}:{DB_PASSWORD}@127.0.0.1:{self.port}/{DB_NAME}"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    def start(self) -> None:
        for directory in (self.root, self.data, self.socket_dir):
            directory.mkdir(exist_ok=True)
            if os.geteuid() == 0:
                shutil.chown(directory, "postgres", "postgres")
            directory.chmod(0o700)
        init = [pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-E", "UTF8", "--no-locale"]
        init += ["--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync"]
        subprocess.run(as_owner(init), cwd=self.root, check=True, capture_output=True, timeout=300)
        server = [pg_bin("postgres"), "-D", str(self.data), "-c", "listen_addresses=127.0.0.1"]
        server += ["-c", f"port={self.port}", "-c", f"unix_socket_directories={self.socket_dir}"]
        server += ["-c", "max_connections=200", "-c", "fsync=off", "-c", "synchronous_commit=off"]
        with open(self.root / "postgres.log", "ab") as log:
            self.proc = subprocess.Popen(
                as_owner(server), cwd=self.root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_port(self.port, self.proc)
        ready = [pg_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)]
        wait_for("postgres accepting", lambda: subprocess.run(ready, capture_output=True).returncode == 0, 120)
        self.psql(f"CREATE ROLE {DB_USER} LOGIN PASSWORD '{DB_PASSWORD}'")
        self.psql(f"CREATE DATABASE {DB_NAME} OWNER {DB_USER}")

    def psql(self, sql: str) -> str:
        argv = [pg_bin("psql"), "-h", str(self.socket_dir), "-p", str(self.port), "-U", "postgres", "-d", "postgres"]
        argv += ["-tA", "-v", "ON_ERROR_STOP=1", "-c", sql]
        return subprocess.run(as_owner(argv), check=True, capture_output=True, text=True, timeout=60).stdout

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)  # "fast" shutdown: SIGTERM would wait for the clients
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)


def wait_for(what: str, holds: Callable[[], bool], timeout: float = 240, every: float = 0.5) -> None:
    """Poll ``holds`` with a generous bound: a condition awaited, never a timed assertion."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if holds():
            return
        time.sleep(every)
    raise AssertionError(f"{what}: not so after {timeout:.0f} s")


def machine_env(var_dir: Path, port: int, shared: Mapping[str, str], **overrides: str) -> dict[str, str]:
    """One machine's environment file: the template with its own state directory and port, and what
    every machine must have alike (``shared``: DATABASE_URL, REDIS_URL, the key, the Channels prefix)."""
    env = production_env(var_dir, port, shared["REDIS_URL"], **overrides)
    return env | dict(shared)


def node_name(command: list[str], name: str) -> list[str]:
    """The unit's command with its Celery node name (``-n``) made this machine's own (one host here)."""
    if "-n" in command:
        at = command.index("-n")
        return [*command[: at + 1], f"{name}@%h", *command[at + 2 :]]
    return command


@dataclass
class Cluster:
    """The processes of every machine, by name; each logs to ``log_dir/<name>.log``."""

    log_dir: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    envs: dict[str, dict[str, str]] = field(default_factory=dict)

    def start(self, name: str, unit: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        command = node_name(exec_start(unit, env), name)
        with open(self.log_dir / f"{name}.log", "ab") as out:
            proc = subprocess.Popen(
                command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.procs[name], self.envs[name] = proc, env
        return proc

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")

    def wait_log(self, name: str, pattern: str, timeout: float = 240, after: int = 0) -> re.Match[str]:
        """Until ``pattern`` is in the process's log (past character ``after``)."""
        found: list[re.Match[str]] = []

        def seen() -> bool:
            assert self.procs[name].poll() is None, f"{name} exited: {self.log(name)[-3000:]}"
            match = re.compile(pattern).search(self.log(name), after)
            found[:] = [match] if match else []
            return bool(found)

        wait_for(f"{name}: {pattern!r} in its log", seen, timeout)
        return found[0]

    def kill(self, name: str) -> None:
        """SIGKILL to the whole process group: a crash, an OOM kill, a machine gone."""
        proc = self.procs[name]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            stop(proc)


def manage(env: Mapping[str, str], *args: str) -> str:
    """tests/deploy_stack.py's ``manage``, with the longer wait a migration on PostgreSQL may take here."""
    return deploy_stack.manage(env, *args, timeout=600)


def check(env: Mapping[str, str], function: str) -> Any:
    """One of tests/multinode_check.py's functions run by ``manage.py shell`` on the stack's database."""
    out = manage(env, "shell", "-c", f"from tests.multinode_check import {function}; {function}()")
    (line,) = [line for line in out.splitlines() if line.startswith("RESULT ")]
    return orjson.loads(line.removeprefix("RESULT "))


@contextmanager
def started(cluster: Cluster) -> Iterator[Cluster]:
    try:
        yield cluster
    finally:
        cluster.stop_all()


LEASE_LINE = re.compile(r"graph writer lease (taken|released) by (\S+) at (\d+\.\d+)")


def lease_intervals(logs: list[str]) -> list[tuple[str, float, float]]:
    """(holder, taken, released) of every lease held to its end, from the writers' logs."""
    intervals = []
    for text in logs:
        taken: dict[str, float] = {}
        for what, token, at in LEASE_LINE.findall(text):
            if what == "taken":
                taken[token] = float(at)
            elif token in taken:
                intervals.append((token, taken.pop(token), float(at)))
    return sorted(intervals, key=lambda i: i[1])


def overlapping(intervals: list[tuple[str, float, float]]) -> list[tuple[Any, Any]]:
    """Pairs of leases held at the same time (none, if one applier at a time)."""
    return [(a, b) for a, b in itertools.pairwise(intervals) if b[1] < a[2]]
