"""The agent as a service: the systemd unit (deploy/neutron-map-agent.service) and the Ansible role
(deploy/ansible/), checked with the real tools.

systemd is not PID 1 on these machines, so the unit is verified (`systemd-analyze verify`, and its
sandbox scored by `systemd-analyze security --offline`) but never started here. The playbook is
linted (ansible-lint, production profile), syntax-checked, run in check mode, and applied for real
with a local connection to this test host under a scratch root directory (neutron_map_agent_root:
/etc, /opt of this shared machine stay untouched), with the token issued by the dashboard's own
`manage.py agent_token` on the test database, and `neutron-map-agent --check` at its end
accepted by a live dashboard. Not run: the unit's start (no systemd), the role on other hosts.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from tests.agent.conftest import needs_root
from tests.agent.wheel import REPO, build_wheel, python39
from topology.models import AgentToken

ANSIBLE_DIR = REPO / "deploy" / "ansible"
UNIT = REPO / "deploy" / "neutron-map-agent.service"
TOOLS = REPO / "var" / "cache" / "ansible"


def ansible_tools() -> Path:
    """A virtualenv with deploy/ansible/requirements.txt (made once, kept in var/cache/ansible)."""
    wanted = (ANSIBLE_DIR / "requirements.txt").read_text()
    stamp = TOOLS / "requirements.txt"
    if not (TOOLS / "bin" / "ansible-playbook").exists() or not stamp.exists() or stamp.read_text() != wanted:
        venv.EnvBuilder(with_pip=True, clear=True).create(TOOLS)
        subprocess.run(
            [str(TOOLS / "bin" / "pip"), "install", "-q", "-r", str(ANSIBLE_DIR / "requirements.txt")],
            check=True,
            capture_output=True,
        )
        stamp.write_text(wanted)
    return TOOLS / "bin"


def run_tool(name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    tools = ansible_tools()
    return subprocess.run(
        [str(tools / name), *args],
        cwd=ANSIBLE_DIR,
        capture_output=True,
        text=True,
        timeout=900,
        env={
            **os.environ,
            "PATH": f"{tools}:{os.environ['PATH']}",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "NO_COLOR": "1",
            "ANSIBLE_LOCAL_TEMP": "/tmp/ansible-local",
            **(env or {}),
        },
    )


def recap(output: str, host: str = "localhost") -> dict[str, int]:
    """The PLAY RECAP counters of ``host``."""
    line = next(line for line in output.splitlines() if line.startswith(f"{host} ") and "ok=" in line)
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", line)}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("dist"))


def test_the_unit_verifies_and_grants_only_the_agents_capabilities(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    text = UNIT.read_text()
    caps = re.search(r"^CapabilityBoundingSet=(.*)$", text, re.M)
    assert caps is not None
    assert set(caps.group(1).split()) == {"CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_DAC_OVERRIDE"}
    for line in ("ProtectSystem=strict", "NoNewPrivileges=yes", "Restart=on-failure", "RestartPreventExitStatus=2"):
        assert f"\n{line}\n" in text
    assert "StandardError=journal" in text
    # verify checks that ExecStart exists: point it at a real executable for the check.
    copy = tmp_path / "neutron-map-agent.service"
    copy.write_text(text.replace("/opt/neutron-map-agent/bin/neutron-map-agent", sys.executable))
    done = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    security = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", str(copy)], capture_output=True, text=True, timeout=120
    )
    exposure = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", security.stdout)
    assert exposure is not None, security.stdout + security.stderr
    # 10 = unconfined root; what is left is the root user and the four capabilities it needs.
    assert float(exposure.group(1)) <= 5.0, security.stdout


def test_the_role_passes_ansible_lint_production_profile() -> None:
    done = run_tool("ansible-lint", "--profile", "production", "playbook.yml", "roles")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Profile 'production' was required, and it passed" in done.stdout + done.stderr


def test_the_playbook_passes_syntax_check() -> None:
    done = run_tool("ansible-playbook", "--syntax-check", "-i", "localhost,", "playbook.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def inventory(tmp_path: Path) -> Path:
    path = tmp_path / "inventory.ini"
    path.write_text(
        "[neutron_map_agents]\n"
        f"localhost ansible_connection=local ansible_python_interpreter={TOOLS / 'bin' / 'python'}\n"
    )
    return path


def extra_vars(tmp_path: Path, root: Path | None, wheel: Path, url: str, *, ovsdb: str = "none") -> Path:
    """The role's variables: a scratch root (None: each host's, from the inventory), the test database's
    manage.py, no systemd."""
    python = python39() or sys.executable
    values: dict[str, Any] = {
        "ansible_become": False,  # the test runs as root already
        "neutron_map_agent_wheel": str(wheel),
        "neutron_map_agent_url": url,
        "neutron_map_agent_python": python,
        "neutron_map_agent_packages": [],  # no apt on a shared test host (python3-venv is there)
        "neutron_map_agent_ovsdb": ovsdb,
        "neutron_map_agent_start": False,  # systemd is not PID 1 here
        "neutron_map_agent_dashboard_host": "localhost",
        "neutron_map_agent_dashboard_manage": f"{REPO / '.venv' / 'bin' / 'python'} {REPO / 'manage.py'}",
        "neutron_map_agent_dashboard_tokens_dir": str(tmp_path / "dashboard-tokens"),
        "neutron_map_agent_dashboard_environment": {
            "DATABASE_URL": f"sqlite:///{settings.DATABASES['default']['NAME']}",
            "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", ""),
            "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        },
    }
    if root is not None:
        values |= {"neutron_map_agent_root": str(root), "neutron_map_agent_host_name": "ansible-node"}
    path = tmp_path / "vars.json"
    path.write_text(json.dumps(values))
    path.chmod(0o600)
    return path


def test_check_mode_on_a_fresh_node_changes_nothing(wheel: Path, tmp_path: Path) -> None:
    needs_root()
    root = tmp_path / "root"
    args = ("-i", str(inventory(tmp_path)), "-e", f"@{extra_vars(tmp_path, root, wheel, 'https://d/')}")
    done = run_tool("ansible-playbook", "--check", "--diff", *args, "playbook.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    counts = recap(done.stdout)
    assert counts["failed"] == 0 and counts["changed"] >= 5, done.stdout
    assert not root.exists(), "check mode wrote nothing"
    assert not (tmp_path / "dashboard-tokens").exists(), "nor issued a token"


@pytest.mark.django_db(transaction=True)
def test_the_playbook_installs_the_agent_and_its_check_passes(wheel: Path, live_server: Any, tmp_path: Path) -> None:
    needs_root()
    root = tmp_path / "root"
    url = f"{live_server.url}/api/v1/agents/report/"
    args = ("-i", str(inventory(tmp_path)), "-e", f"@{extra_vars(tmp_path, root, wheel, url)}", "playbook.yml")
    done = run_tool("ansible-playbook", *args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert recap(done.stdout)["failed"] == 0
    assert AgentToken.objects.filter(host="ansible-node").exists(), "the dashboard issued the host's token"

    agent = root / "opt" / "neutron-map-agent" / "bin" / "neutron-map-agent"
    conf = root / "etc" / "neutron-map" / "agent.conf"
    token = root / "etc" / "neutron-map" / "token"
    assert f"url = {url}\nhost = ansible-node\ntoken_file = {token}\n" in conf.read_text()
    assert stat.S_IMODE(token.stat().st_mode) == 0o600 and stat.S_IMODE(conf.stat().st_mode) == 0o640
    assert (root / "etc" / "systemd" / "system" / "neutron-map-agent.service").read_text() == UNIT.read_text()
    # The play ended with `neutron-map-agent --check`, which asked the live dashboard: run it again to read it.
    check = subprocess.run([str(agent), "--check", "--config", str(conf)], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "token accepted: it belongs to host 'ansible-node'" in check.stdout

    again = run_tool("ansible-playbook", *args)
    assert again.returncode == 0, again.stdout + again.stderr
    assert recap(again.stdout)["changed"] == 0, "a second run changes nothing (and issues no new token)"
