"""Helpers for the agent wheel's tests: build it once, a fresh virtualenv on the oldest Python here."""

from __future__ import annotations

import ast
import glob
import importlib.util
import shutil
import subprocess
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _load_build_script() -> object:
    """deploy/agent/build.py (a script, not a package)."""
    spec = importlib.util.spec_from_file_location("agent_build", REPO / "deploy" / "agent" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


agent_build = _load_build_script()

DEPENDENCIES = {"ovsdbapp", "pyroute2"}  # deploy/agent/pyproject.toml's
# pyenv's 3.9 on these machines, else a python3.9 on PATH: the oldest interpreter the wheel claims.
PYTHON39_CANDIDATES = ("/root/.pyenv/versions/3.9*/bin/python3.9", "/usr/bin/python3.9", "/usr/local/bin/python3.9")


def build_wheel(out: Path) -> Path:
    return Path(agent_build.build(out))  # type: ignore[attr-defined]


def wheelhouse(wheel: Path, out: Path, python: str) -> Path:
    return Path(agent_build.wheelhouse(wheel, out, python))  # type: ignore[attr-defined]


def module_files() -> list[Path]:
    return list(agent_build.module_files())  # type: ignore[attr-defined]


def python39() -> str | None:
    for pattern in PYTHON39_CANDIDATES:
        found = sorted(glob.glob(pattern))
        if found:
            return found[-1]
    return shutil.which("python3.9")


def fresh_venv(python: str, where: Path, wheel: Path) -> Path:
    """A new virtualenv of ``python`` at ``where`` with only the wheel and its dependencies (from PyPI)."""
    subprocess.run([python, "-m", "venv", str(where)], check=True)
    subprocess.run(
        [str(where / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(wheel)],
        check=True,
        capture_output=True,
    )
    return where


def wheel_modules(wheel: Path) -> dict[str, str]:
    """Module name -> source of every .py in the wheel."""
    modules: dict[str, str] = {}
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if name.endswith(".py"):
                module = name[: -len(".py")].replace("/", ".").removesuffix(".__init__")
                modules[module] = archive.read(name).decode()
    return modules


def imports_of(source: str, module: str) -> set[str]:
    """Absolute names of the modules ``source`` imports (relative imports resolved against ``module``)."""
    found: set[str] = set()
    package = module if module.count(".") == 0 else module.rsplit(".", 1)[0]
    for node in _runtime_nodes(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            # `from topology.agent import probes`: a submodule, when there is one.
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node but those under ``if TYPE_CHECKING:`` (imports a type checker alone makes)."""
    found: list[ast.AST] = []
    pending = [tree]
    while pending:
        node = pending.pop()
        found.append(node)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            pending.extend(node.orelse)
            continue
        pending.extend(ast.iter_child_nodes(node))
    return found
