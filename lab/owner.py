"""Which checkout's lab runs on this machine.

Ports, /run/netns, the OVS socket and iptables are machine-wide: two
checkouts (say /work/main and a clean clone running CI) cannot each run a
lab. The running lab's LAB_DIR is recorded in /run (gone on reboot, removed
on `lab down`). Another checkout's `up` refuses to use that lab unless asked
to (`--adopt`, or LAB_DIR naming it): a silent borrow ran one checkout's
tests against another's lab and left it running. A dead one (`dead`: a run
killed mid-test, a deleted checkout) is taken over instead (lab.takeover).

Every function takes the record and this checkout's LAB_DIR as arguments
(defaults: /run's record and paths.LAB_DIR) so that tests can use temporary ones.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from lab import paths, procs

OWNER_FILE = Path("/run/neutron-lab.owner")
# An abstract unix socket name: binding it is exclusive machine-wide, the
# kernel frees it when the holder dies, and it leaves no file behind.
LOCK_NAME = b"\0neutron-lab.lock"


class ForeignLab(RuntimeError):
    """Another checkout's lab runs here and this one was not asked to adopt it."""

    def __init__(self, other: Path, mine: Path) -> None:
        super().__init__(refusal(other, mine))
        self.other = other


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


def _mine(lab_dir: Path | None) -> Path:
    return lab_dir or paths.LAB_DIR


def current(record: Path = OWNER_FILE) -> Path | None:
    try:
        return Path(record.read_text().strip())
    except OSError:
        return None


def foreign(record: Path = OWNER_FILE, lab_dir: Path | None = None) -> Path | None:
    """LAB_DIR of another checkout whose lab is running (or says it is), else None."""
    owner = current(record)
    if owner is None or owner == _mine(lab_dir):
        return None
    if (owner / "state.json").exists() or procs.daemon_pids(owner / "run"):
        return owner
    return None  # stale record: that lab is gone


def stale(record: Path = OWNER_FILE, lab_dir: Path | None = None) -> Path | None:
    """LAB_DIR of another checkout recorded as running a lab that is gone (or its dir is)."""
    owner = current(record)
    if owner is None or owner == _mine(lab_dir) or foreign(record, lab_dir) is not None:
        return None
    return owner


def dead(record: Path = OWNER_FILE, lab_dir: Path | None = None) -> Path | None:
    """LAB_DIR of another checkout recorded as running the lab here when that lab is dead, else None.

    Dead: its LAB_DIR is gone, or not one of the daemons its pidfiles name runs (a pidfile
    counts only while its pid runs with the start time it recorded: procs.read_pid), whatever
    its state.json says; a run killed mid-test leaves `status: up` and namespaces behind.
    Asked under exclusive(): an up or down holds it from before its first daemon starts to
    after its last one stops, so a lab between daemons is never taken for dead.
    """
    owner = current(record)
    if owner is None or owner == _mine(lab_dir):
        return None
    if owner.is_dir() and procs.daemon_pids(owner / "run"):
        return None  # alive: foreign() and adoptable() refuse it
    return owner


def refusal(other: Path, mine: Path) -> str:
    """Why `up` stops, naming the other checkout, and the two ways on."""
    try:
        state = json.loads((other / "state.json").read_text())
        what = f"status {state.get('status')}, scenario {state.get('scenario')}"
    except (OSError, ValueError, AttributeError):
        what = "its daemons run"
    return (
        f"the lab running on this machine belongs to another checkout: LAB_DIR={other} ({what}); "
        f"this checkout's is {mine}, and a machine holds one lab. Either take it down "
        f"(LAB_DIR={other} python manage.py lab down), or use it explicitly: "
        f"LAB_DIR={other} for every command (tests too), or python manage.py lab up --adopt"
    )


def adoptable(adopt: bool, record: Path = OWNER_FILE, lab_dir: Path | None = None) -> Path | None:
    """The other checkout's LAB_DIR when its lab runs here and `adopt` says use it; None when
    no other lab runs. Raises ForeignLab when one runs and `adopt` is False."""
    other = foreign(record, lab_dir)
    if other is not None and not adopt:
        raise ForeignLab(other, _mine(lab_dir))
    return other


def claim(record: Path = OWNER_FILE, lab_dir: Path | None = None) -> None:
    record.write_text(f"{_mine(lab_dir)}\n")


def release(record: Path = OWNER_FILE, lab_dir: Path | None = None) -> None:
    """Forget the record once this checkout's lab is down."""
    if current(record) in (None, _mine(lab_dir)):
        record.unlink(missing_ok=True)
