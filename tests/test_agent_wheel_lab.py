"""The agent's wheel on the lab's second host: built from this checkout, installed into a fresh
Python 3.9 virtualenv (nothing of the repository on its path), run inside compute2's network and
mount namespaces (its own /run/netns and /run/openvswitch) against a real daphne on the port the
lab's relay carries from compute2 to host 1: compute2's own report is accepted, and `--check`
there reads compute2's OVSDB and namespaces and gets the token accepted.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.agent.wheel import build_wheel, fresh_venv, python39
from tests.test_lab_agents import dashboard_on_8000  # noqa: F401  (the fixture: daphne on 127.0.0.1:8000)
from topology.models import HostReport
from topology.services import issue_agent_token

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]
URL = "http://127.0.0.1:8000/api/v1/agents/report/"


def test_the_wheel_reports_compute2_from_inside_its_namespaces(
    dvr_lab: dict[str, Any],
    dashboard_on_8000: None,  # noqa: F811
    tmp_path: Path,
) -> None:
    from lab import hostcmd

    venv = fresh_venv(python39() or sys.executable, tmp_path / "agent-venv", build_wheel(tmp_path / "dist"))
    agent = str(venv / "bin" / "neutron-map-agent")
    token = tmp_path / "token"
    token.write_text(issue_agent_token("compute2") + "\n")
    common = ["--host", "compute2", "--url", URL, "--token-file", str(token)]

    done = hostcmd.run_on("compute2", [agent, "--once", *common], capture=True)
    assert done.returncode == 0, done.stderr
    assert "report sent (once)" in done.stderr

    report = HostReport.objects.get(host="compute2").report
    router = dvr_lab["routers"]["dvr-router"]["id"]
    namespaces = {ns["name"] for ns in report["namespaces"]}
    assert f"qrouter-{router}" in namespaces and f"snat-{router}" not in namespaces, "compute2's view, not host 1's"
    assert any(name.startswith("fip-") for name in namespaces)
    assert {"br-int", "br-tun", "br-ex", "br-phy"} <= {b["name"] for b in report["ovs"]["bridges"]}
    assert report["tunnel_ip"] == dvr_lab["hosts"]["compute2"]["tunnel_ip"]
    vm = dvr_lab["vms"]["vm-db-1"]
    assert any(i["name"] == f"qvo{vm['port_id'][:11]}" for i in report["interfaces"])

    check = hostcmd.run_on("compute2", [agent, "--check", *common], capture=True)
    assert "token accepted: it belongs to host 'compute2'" in check.stdout, check.stdout + check.stderr
    assert "OVSDB unix:/var/run/openvswitch/db.sock: Open vSwitch" in check.stdout
    assert f"namespaces in /run/netns: {len(hostcmd.namespaces('compute2'))} listed" in check.stdout
    assert check.returncode == 0, check.stdout
