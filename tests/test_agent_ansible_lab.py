"""The Ansible role applied to the lab's two hosts: one ansible-playbook run, a local connection
per host whose modules run inside that host's view (compute2: an interpreter wrapped in nsenter into
its holder's network and mount namespaces), each host installed under a scratch root (the machine's
/etc and /opt stay untouched; systemd is not PID 1 here, so the unit is installed, not started).
The role gets each host's token from the test database's `manage.py agent_token`, and its closing
`neutron-map-agent --check` runs in each host's view against a real daphne on 127.0.0.1:8000 (the
lab's relay carries it from compute2). compute2's namespaces reach no package index, so the
dependencies travel as a wheelhouse (neutron_map_agent_wheelhouse). Then each installed agent
reports once from its host.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.agent.test_deploy import TOOLS, extra_vars, recap, run_tool
from tests.agent.wheel import build_wheel, python39, wheelhouse
from tests.test_lab_agents import dashboard_on_8000  # noqa: F401  (the fixture: daphne on 127.0.0.1:8000)
from topology.models import AgentToken, HostReport

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]
URL = "http://127.0.0.1:8000/api/v1/agents/report/"
HOSTS = ("controller", "compute2")


def interpreter_in_view(host: str, where: Path) -> str:
    """The ansible-core virtualenv's python, run in ``host``'s view (its namespaces)."""
    from lab import hosts

    python = str(TOOLS / "bin" / "python")
    view = hosts.view(host)
    if view is None:
        return python
    wrapper = where / f"python-{host}"
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.join(view.prefix)} --wd="$PWD" {python} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def test_the_role_installs_the_agent_on_both_lab_hosts(
    dvr_lab: dict[str, Any],
    dashboard_on_8000: None,  # noqa: F811
    tmp_path: Path,
) -> None:
    from lab import hostcmd

    run_tool("ansible-playbook", "--version")  # the tools, installed once
    inventory = tmp_path / "inventory.ini"
    lines = ["[neutron_map_agents]"]
    for host in HOSTS:
        lines.append(
            f"{host} ansible_connection=local ansible_python_interpreter={interpreter_in_view(host, tmp_path)} "
            f"neutron_map_agent_host_name={host} neutron_map_agent_root={tmp_path / host}"
        )
    inventory.write_text("\n".join(lines) + "\n")
    wheel = build_wheel(tmp_path / "dist")
    # compute2's namespaces reach no package index (as many real nodes): the dependencies go as wheels.
    house = wheelhouse(wheel, tmp_path / "wheelhouse", python39() or sys.executable)
    variables = extra_vars(tmp_path, None, wheel, URL, ovsdb="unix:/var/run/openvswitch/db.sock")
    extra = tmp_path / "wheelhouse.json"
    extra.write_text(json.dumps({"neutron_map_agent_wheelhouse": str(house)}))

    args = ("-i", str(inventory), "-e", f"@{variables}", "-e", f"@{extra}", "-v", "playbook.yml")
    done = run_tool("ansible-playbook", *args)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr
    for host in HOSTS:
        assert recap(done.stdout, host)["failed"] == 0
    assert set(AgentToken.objects.filter(host__in=HOSTS).values_list("host", flat=True)) == set(HOSTS)
    # The role's --check ran in each host's view: compute2's own OVSDB, its token accepted.
    for host in HOSTS:
        assert f"token accepted: it belongs to host '{host}'" in done.stdout, done.stdout[-6000:]
    assert "bridges: br-ex, br-int, br-phy, br-tun" in done.stdout

    for host in HOSTS:
        agent = tmp_path / host / "opt" / "neutron-map-agent" / "bin" / "neutron-map-agent"
        conf = tmp_path / host / "etc" / "neutron-map" / "agent.conf"
        sent = hostcmd.run_on(host, [str(agent), "--once", "--config", str(conf)], capture=True)
        assert sent.returncode == 0, sent.stderr
    reports = {r.host: r.report for r in HostReport.objects.filter(host__in=HOSTS)}
    router = dvr_lab["routers"]["dvr-router"]["id"]
    names = {h: {ns["name"] for ns in r["namespaces"]} for h, r in reports.items()}
    assert f"snat-{router}" in names["controller"] and f"snat-{router}" not in names["compute2"]
    assert f"qrouter-{router}" in names["compute2"]
