"""Every host of the lab runs the node agent, which reports to the dashboard from its own view.

The lab starts `python -m topology.agent` on each host when it finds a token
for it in var/lab/agent-tokens/ (bin/run writes them): here with tokens of the
test database and a real daphne on the port the agents post to, on the
two-host dvr scenario, so compute2's report must come through its relay and
show compute2's own namespaces and bridges.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from tests.conftest import REPO
from topology.models import HostReport
from topology.services import issue_agent_token

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]
HOSTS = ("controller", "compute2")


@pytest.fixture
def dashboard_on_8000(tmp_path: Path) -> Iterator[None]:
    """daphne on 127.0.0.1:8000 (where the lab's agents post) on the test database."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{settings.DATABASES['default']['NAME']}"}
    log = (tmp_path / "daphne.log").open("w")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1", "-p", "8000", "dashboard.asgi:application"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=15)


@pytest.fixture
def agent_tokens() -> Iterator[None]:
    from lab import nodeagent

    nodeagent.TOKENS_DIR.mkdir(parents=True, exist_ok=True)
    saved = {h: nodeagent.token_file(h).read_text() for h in HOSTS if nodeagent.token_file(h).exists()}
    nodeagent.stop(*HOSTS)
    for host in HOSTS:
        nodeagent.token_file(host).write_text(issue_agent_token(host) + "\n")
    try:
        yield
    finally:
        nodeagent.stop(*HOSTS)
        for host in HOSTS:
            if host in saved:
                nodeagent.token_file(host).write_text(saved[host])
            else:
                nodeagent.token_file(host).unlink(missing_ok=True)


def test_both_hosts_report_their_own_view(dvr_lab: dict[str, Any], dashboard_on_8000: None, agent_tokens: None) -> None:
    from lab import api

    api.up("dvr")  # already up: starts the node agents now that their tokens exist
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and HostReport.objects.filter(host__in=HOSTS).count() < 2:
        time.sleep(1)
    reports = {r.host: r.report for r in HostReport.objects.filter(host__in=HOSTS)}
    assert set(reports) == set(HOSTS), "both agents reported"
    router = dvr_lab["routers"]["dvr-router"]["id"]
    namespaces = {h: {ns["name"] for ns in r["namespaces"]} for h, r in reports.items()}
    assert f"snat-{router}" in namespaces["controller"] and f"snat-{router}" not in namespaces["compute2"]
    assert f"qrouter-{router}" in namespaces["compute2"]
    assert any(n.startswith("fip-") for n in namespaces["compute2"])
    assert reports["compute2"]["tunnel_ip"] == dvr_lab["hosts"]["compute2"]["tunnel_ip"]
    bridges = {b["name"] for b in reports["compute2"]["ovs"]["bridges"]}
    assert {"br-int", "br-tun", "br-ex", "br-phy"} <= bridges
    vm = dvr_lab["vms"]["vm-db-1"]
    assert any(i["name"] == f"qvo{vm['port_id'][:11]}" for i in reports["compute2"]["interfaces"])
    assert not any(i["name"] == f"qvo{vm['port_id'][:11]}" for i in reports["controller"]["interfaces"])
