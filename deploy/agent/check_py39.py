"""Type-check the node agent's modules for Python 3.9: ``python deploy/agent/check_py39.py``.

ruff checks their syntax for 3.9 (pyproject.toml ``per-file-target-version``); this checks
what they call (``datetime.UTC``, ``typing.NotRequired``, ``X | Y`` evaluated at run time...)
with mypy targeting 3.9, which mypy 2.x no longer does: mypy MYPY_VERSION is installed once
into var/cache/mypy-py39/ (a virtualenv of this interpreter) and run with mypy-py39.ini.
Exit status: mypy's.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
MYPY_VERSION = "1.18.2"  # the last line of mypy releases tried here that still targets 3.9
VENV = REPO / "var" / "cache" / "mypy-py39"


def mypy() -> Path:
    binary = VENV / "bin" / "mypy"
    stamp = VENV / "mypy-version"
    if not binary.exists() or not stamp.exists() or stamp.read_text().strip() != MYPY_VERSION:
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", f"mypy=={MYPY_VERSION}"], check=True)
        stamp.write_text(MYPY_VERSION + "\n")
    return binary


def main() -> int:
    done = subprocess.run([str(mypy()), "--config-file", str(HERE / "mypy-py39.ini")], cwd=REPO, check=False)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
