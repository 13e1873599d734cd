"""Where the lab keeps its state: everything under LAB_DIR (default var/lab)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
LAB_DIR = Path(os.environ.get("LAB_DIR") or REPO_DIR / "var" / "lab").resolve()

RUN_DIR = LAB_DIR / "run"  # pidfiles, sockets, runtime data (wiped on down)
LOG_DIR = LAB_DIR / "log"
ETC_DIR = LAB_DIR / "etc"  # generated configuration (rewritten on up)
VENVS_DIR = LAB_DIR / "venvs"  # kept across down/up: installing is the slow part
CACHE_DIR = LAB_DIR / "cache"  # kept across down/up: pristine bootstrap results
CONSTRAINTS_DIR = Path(__file__).resolve().parent / "constraints"

STATE_FILE = LAB_DIR / "state.json"
CLOUDS_YAML = LAB_DIR / "clouds.yaml"


def venv_bin(venv: str, script: str) -> Path:
    return VENVS_DIR / venv / "bin" / script


def ensure_dirs() -> None:
    for d in (RUN_DIR, LOG_DIR, ETC_DIR, VENVS_DIR, CACHE_DIR):
        d.mkdir(parents=True, exist_ok=True)
