"""Real OVN databases for a test or a benchmark: an NB and an SB ovsdb-server and ovn-northd, all under one directory.

Each daemon has its own unix socket, pidfile, unixctl socket and log inside ``root``, and
OVS_RUNDIR/OVN_RUNDIR point there too, so nothing touches /var/run/openvswitch, /var/run/ovn or the
lab's OVS database. Start order as measured in ../shared/OVN.md: create the databases,
``ovn-nbctl --no-wait init``, ``ovn-sbctl init``, then ovn-northd.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA_DIR = Path("/usr/share/ovn")


@dataclass(frozen=True)
class OvnDbs:
    root: Path
    nb: str  # unix:<root>/nb.sock
    sb: str

    def env(self) -> dict[str, str]:
        return {**os.environ, "OVS_RUNDIR": str(self.root), "OVN_RUNDIR": str(self.root)}

    def nbctl(self, *args: str) -> str:
        return _run(["ovn-nbctl", f"--db={self.nb}", "--no-wait", *args], self.env())

    def sbctl(self, *args: str) -> str:
        return _run(["ovn-sbctl", f"--db={self.sb}", *args], self.env())


def _run(cmd: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {done.returncode}: {done.stderr.strip()}")
    return done.stdout.strip()


def _daemon_args(root: Path, name: str) -> list[str]:
    return [
        f"--pidfile={root / name}.pid",
        f"--unixctl={root / name}.ctl",
        f"--log-file={root / name}.log",
        "-vconsole:off",
    ]


def _wait_for(path: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path} did not appear within {timeout} s")
        time.sleep(0.02)


def _spawn(cmd: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A daemon as our child (no --detach): stopping it reaps it, no zombie is left to PID 1."""
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@contextmanager
def ovn_databases(root: Path) -> Iterator[OvnDbs]:
    """NB + SB ovsdb-servers and ovn-northd under ``root``; all stopped on exit."""
    root.mkdir(parents=True, exist_ok=True)
    dbs = OvnDbs(root=root, nb=f"unix:{root / 'nb.sock'}", sb=f"unix:{root / 'sb.sock'}")
    env = dbs.env()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for name, schema in (("nb", "ovn-nb.ovsschema"), ("sb", "ovn-sb.ovsschema")):
            db = root / f"{name}.db"
            _run(["ovsdb-tool", "create", str(db), str(SCHEMA_DIR / schema)], env)
            cmd = ["ovsdb-server", str(db), f"--remote=punix:{root / name}.sock", *_daemon_args(root, name)]
            procs.append(_spawn(cmd, env))
            _wait_for(root / f"{name}.sock")
        dbs.nbctl("init")
        dbs.sbctl("init")
        procs.append(
            _spawn(["ovn-northd", f"--ovnnb-db={dbs.nb}", f"--ovnsb-db={dbs.sb}", *_daemon_args(root, "northd")], env)
        )
        yield dbs
    finally:
        for proc in reversed(procs):
            _stop(proc)


def wait_until(predicate: object, timeout: float = 10.0, what: str = "condition") -> None:
    """Poll ``predicate()`` until it is true (northd computes the SB a moment after an NB change)."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.05)
