"""Where the lab keeps its state: everything under LAB_DIR (default var/lab), but for what a
daemon running as another user than root must reach (SHARED_DIR)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
LAB_DIR = Path(os.environ.get("LAB_DIR") or REPO_DIR / "var" / "lab").resolve()

RUN_DIR = LAB_DIR / "run"  # pidfiles, sockets, runtime data (wiped on down)
LOG_DIR = LAB_DIR / "log"
ETC_DIR = LAB_DIR / "etc"  # generated configuration (rewritten on up)
VENVS_DIR = LAB_DIR / "venvs"  # kept across down/up: installing is the slow part
CACHE_DIR = LAB_DIR / "cache"  # kept across down/up: pristine bootstrap results
CONSTRAINTS_DIR = Path(__file__).resolve().parent / "constraints"

# PostgreSQL runs as `postgres` and needs its data by path: a checkout may sit under a
# directory only root can enter (root's home is 0700 on Debian), so its data lives
# here, one directory per LAB_DIR (removed on down; a deleted checkout's, by the next up).
SHARED_BASE = Path("/var/lib/neutron-map-lab")


def shared_dir(lab_dir: Path) -> Path:
    """The directory of `lab_dir`'s lab that users other than root can reach."""
    return SHARED_BASE / hashlib.sha256(str(lab_dir).encode()).hexdigest()[:16]


SHARED_DIR = shared_dir(LAB_DIR)

STATE_FILE = LAB_DIR / "state.json"
CLOUDS_YAML = LAB_DIR / "clouds.yaml"


def venv_bin(venv: str, script: str) -> Path:
    return VENVS_DIR / venv / "bin" / script


def ensure_dirs() -> None:
    for d in (RUN_DIR, LOG_DIR, ETC_DIR, VENVS_DIR, CACHE_DIR):
        d.mkdir(parents=True, exist_ok=True)


def ensure_shared_dir() -> Path:
    """SHARED_DIR, enterable by every user (whatever root's umask), parents included."""
    for d in (SHARED_BASE, SHARED_DIR):
        d.mkdir(exist_ok=True)
        d.chmod(0o755)
    return SHARED_DIR


def remove_shared_dir(lab_dir: Path = LAB_DIR) -> None:
    """`lab_dir`'s SHARED_DIR, and SHARED_BASE once no lab has one."""
    shutil.rmtree(shared_dir(lab_dir), ignore_errors=True)
    with contextlib.suppress(OSError):  # absent, or another LAB_DIR's is there
        SHARED_BASE.rmdir()
