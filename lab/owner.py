"""Which checkout's lab runs on this machine.

Ports, /run/netns, the OVS socket and iptables are machine-wide: two
checkouts (say /work/main and a clean clone running CI) cannot each run a
lab. The running lab's LAB_DIR is recorded in /run (gone on reboot, removed
on `lab down`); another checkout borrows that lab instead of tearing it down.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from lab import paths, procs

OWNER_FILE = Path("/run/neutron-lab.owner")
# An abstract unix socket name: binding it is exclusive machine-wide, the
# kernel frees it when the holder dies, and it leaves no file behind.
LOCK_NAME = b"\0neutron-lab.lock"


@contextlib.contextmanager
def exclusive() -> Iterator[None]:
    """One up/down at a time on this machine, across processes and checkouts.

    Without it a second `up` sees a half-started lab and takes it down.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as lock:
        while True:
            try:
                lock.bind(LOCK_NAME)
                break
            except OSError:
                time.sleep(0.2)
        yield


def current() -> Path | None:
    try:
        return Path(OWNER_FILE.read_text().strip())
    except OSError:
        return None


def foreign() -> Path | None:
    """LAB_DIR of another checkout whose lab is running (or says it is), else None."""
    owner = current()
    if owner is None or owner == paths.LAB_DIR:
        return None
    if (owner / "state.json").exists() or procs.daemon_pids(owner / "run"):
        return owner
    return None  # stale record: that lab is gone


def stale() -> Path | None:
    """LAB_DIR of another checkout recorded as running a lab that is gone (or its dir is)."""
    owner = current()
    if owner is None or owner == paths.LAB_DIR or foreign() is not None:
        return None
    return owner


def claim() -> None:
    OWNER_FILE.write_text(f"{paths.LAB_DIR}\n")


def release() -> None:
    """Forget the record once this checkout's lab is down."""
    if current() in (None, paths.LAB_DIR):
        OWNER_FILE.unlink(missing_ok=True)
