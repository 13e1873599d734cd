"""Build the node agent's wheel: ``python deploy/agent/build.py [--out DIR]`` prints the wheel's path.

The agent's modules stay where the dashboard and the lab use them (topology/agent/,
``python -m topology.agent``); this copies exactly the modules below, beside this
directory's pyproject.toml and README.md, into a scratch directory and runs
``pip wheel`` on that copy (pip fetches setuptools for the build from the package
index, as for any sdist). Nothing else of the repository (Django, the join, the
lab) can end up in the wheel: tests/agent/test_wheel.py checks that every import of
these modules is in the wheel, the standard library or a declared dependency.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

# The agent and what it imports of the rest of the tree (all Django-free).
MODULES = (
    "topology/__init__.py",
    "topology/agent/**/*.py",
    "topology/report/*.py",
    "topology/kinds.py",
    "topology/report_bounds.py",
)


def module_files(repo: Path = REPO) -> list[Path]:
    """The wheel's modules, relative to the repository."""
    found: set[Path] = set()
    for pattern in MODULES:
        found.update(path.relative_to(repo) for path in repo.glob(pattern) if "__pycache__" not in path.parts)
    return sorted(found)


def stage(target: Path, repo: Path = REPO) -> Path:
    """A buildable copy in ``target``: pyproject.toml, README.md and the modules."""
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(HERE / name, target / name)
    for relative in module_files(repo):
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / relative, target / relative)
    return target


def build(out: Path, python: str = sys.executable) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="neutron-map-agent-") as scratch:
        source = stage(Path(scratch))
        before = set(out.glob("neutron_map_agent-*.whl"))
        subprocess.run(
            [python, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
            check=True,
        )
        # The build leaves *.egg-info and build/ in the scratch copy only.
    built = sorted(set(out.glob("neutron_map_agent-*.whl")) - before) or sorted(out.glob("neutron_map_agent-*.whl"))
    return built[-1]


def wheelhouse(wheel: Path, out: Path, python: str) -> Path:
    """The wheel and every dependency's, built or fetched by ``python`` (the nodes' interpreter: python-ovs
    compiles for it), for nodes without a package index: ``pip install --no-index --find-links DIR``."""
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run([python, "-m", "pip", "wheel", "-q", "-w", str(out), str(wheel)], check=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist", help="directory for the wheel (default: dist/)")
    parser.add_argument("--wheelhouse", type=Path, help="also put the dependencies' wheels here (offline nodes)")
    parser.add_argument("--python", default=sys.executable, help="the nodes' interpreter, for --wheelhouse")
    args = parser.parse_args()
    wheel = build(args.out)
    print(wheel)
    if args.wheelhouse:
        print(wheelhouse(wheel, args.wheelhouse, args.python))
    return 0


if __name__ == "__main__":
    sys.exit(main())
