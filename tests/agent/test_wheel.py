"""The node agent's own wheel (deploy/agent/): built from the repository, installed into a fresh
virtualenv of Python 3.9 (the oldest the wheel claims; pyenv's on these machines), run as
`neutron-map-agent` against a live dashboard on this test host, which accepts its report.

The same wheel inside the lab's compute2 namespaces: tests/test_agent_wheel_lab.py.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.agent.conftest import needs_root
from tests.agent.wheel import (
    DEPENDENCIES,
    REPO,
    build_wheel,
    fresh_venv,
    imports_of,
    module_files,
    python39,
    wheel_modules,
)
from topology.models import HostReport
from topology.services import issue_agent_token


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def venv39(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    python = python39()
    if python is None:
        pytest.skip("no Python 3.9 interpreter on this machine (pyenv's 3.9 or python3.9)")
    return fresh_venv(python, tmp_path_factory.mktemp("venv") / "agent39", wheel)


def test_the_wheel_holds_every_module_the_agent_imports_and_nothing_of_django(wheel: Path) -> None:
    modules = wheel_modules(wheel)
    assert "topology.agent.__main__" in modules and "topology.report.validate" in modules
    assert not any(m.startswith(("topology.models", "topology.api", "topology.join", "dashboard")) for m in modules)
    stdlib = set(sys.stdlib_module_names)
    outside: set[str] = set()
    for module, source in modules.items():
        for name in imports_of(source, module):
            top = name.split(".")[0]
            if top == "topology":
                # A package's attribute (`from topology.agent import probes`) is a module of the wheel,
                # or a name defined in one.
                assert name in modules or name.rsplit(".", 1)[0] in modules, f"{module} imports {name}"
            elif top not in stdlib and top != "__future__":
                outside.add(top)
    assert outside <= DEPENDENCIES, f"imports beyond the declared dependencies: {outside - DEPENDENCIES}"
    assert "django" not in outside and "rest_framework" not in outside


def test_the_wheel_lists_its_dependencies_and_script_and_the_dashboards_version(wheel: Path) -> None:
    import zipfile

    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        entry_points = archive.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    lines = metadata.splitlines()
    requires = {line.split(":", 1)[1].split(">")[0].strip() for line in lines if line.startswith("Requires-Dist:")}
    assert requires == DEPENDENCIES
    assert "Requires-Python: >=3.9" in metadata
    assert "neutron-map-agent = topology.agent.__main__:main" in entry_points
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert f"Version: {project['version']}\n" in metadata
    assert sorted(str(p) for p in module_files()) == sorted(n for n in names if n.endswith(".py"))


def test_the_agent_modules_type_check_for_python_39() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "deploy" / "agent" / "check_py39.py")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found" in done.stdout


def agent(venv: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / "neutron-map-agent"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
    )


def test_the_fresh_venv_has_no_django_and_python_39(venv39: Path) -> None:
    done = subprocess.run(
        [str(venv39 / "bin" / "python"), "-c", "import sys; print(sys.version_info[:2]); import django"],
        capture_output=True,
        text=True,
    )
    assert done.stdout.strip() == "(3, 9)"
    assert "No module named 'django'" in done.stderr
    version = agent(venv39, "--version")
    assert version.returncode == 0 and version.stdout.startswith("neutron-map-agent 0.1.0 (report 1)")


@pytest.mark.django_db(transaction=True)
def test_the_installed_agent_reports_to_a_live_dashboard(venv39: Path, live_server: Any, tmp_path: Path) -> None:
    needs_root()
    token_file = tmp_path / "token"
    token_file.write_text(issue_agent_token("wheel-host") + "\n")
    (tmp_path / "netns").mkdir()
    url = f"{live_server.url}/api/v1/agents/report/"
    netns = str(tmp_path / "netns")
    common = ("--host", "wheel-host", "--url", url, "--token-file", str(token_file), "--netns-dir", netns)
    done = agent(venv39, "--once", "--ovsdb", "none", *common)
    assert done.returncode == 0, done.stderr
    assert "report sent (once)" in done.stderr
    stored = HostReport.objects.get(host="wheel-host").report
    assert stored["version"] == 1 and any(i["name"] == "lo" for i in stored["interfaces"])

    # The same settings from a configuration file, as an operator writes /etc/neutron-map/agent.conf.
    conf = tmp_path / "agent.conf"
    conf.write_text(
        f"[agent]\nurl = {url}\nhost = wheel-host\ntoken_file = {token_file}\n"
        f"netns_dir = {tmp_path / 'netns'}\novsdb = none\n"
    )
    check = agent(venv39, "--check", "--config", str(conf))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "token accepted: it belongs to host 'wheel-host'" in check.stdout
    assert "the dashboard accepts report versions 1" in check.stdout
    assert f"url = {url}  ({conf})" in check.stdout
    assert f"token: {len(token_file.read_text().strip())} characters ({token_file})" in check.stdout

    token_file.write_text("not-a-token\n")
    refused = agent(venv39, "--check", "--config", str(conf))
    assert refused.returncode == 1
    assert "PROBLEM: the dashboard does not know this token: HTTP 401" in refused.stdout
