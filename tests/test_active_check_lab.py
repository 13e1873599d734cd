"""``POST /api/v1/path/active/`` on the real lab (allinone): one real ping sent by the controller's real
agent, and the counters the explanation cites, read before and after by that agent.

cirros-01's namespace holds its port's MAC and address, so the ping is sent from the VM itself; the
walk out by its floating IP cites br-int's flows (on the qvo and the qg-'s tap) and the qrouter's SNAT
rule, and those move (measured: +1 each, the ARP and ND flows cited beside them still). The
agent's probe channel runs to a real daphne (tests/agent_feed.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from tests.agent_feed import HOST, agent_feed
from tests.conftest import ARTIFACTS
from tests.lab_jobs import call
from tests.test_actions_lab import login
from tests.test_actions_lab import shared_broker_restored as shared_broker_restored  # autouse there, so here too
from tests.test_path_lab import server
from tests.test_probes_lab import LOGS, wait_connected
from tests.test_topology_lab import refresh_all

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]
OUTSIDE = "192.168.1.1"


def active(client: Client, src: str, dst: str) -> Any:
    return call(client, "POST", "/path/active/", {"src": src, "dst": dst})  # with the session's CSRF token


@pytest.fixture
def feed(lab: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("NEUTRON_MAP_AGENT_ACTIVE_PROBES", "true")  # the agent may send the check's ping
    with agent_feed(settings.DATABASES["default"]["NAME"], LOGS):
        wait_connected(HOST)
        refresh_all(lab["host"])
        yield


def test_one_real_ping_from_the_vm_moves_the_flows_and_the_nat_rule_the_walk_cites(
    lab: dict[str, Any], feed: None
) -> None:
    admin = login(lab, "admin")
    response = active(admin, server(lab, "cirros-01"), OUTSIDE)
    assert response.status_code == 200, response.content[:600]
    body = response.json()
    (ARTIFACTS / "active-check.json").write_text(json.dumps(body, indent=1))
    summary = body["active"]
    assert summary["from"]["namespace"] == lab["vms"]["cirros-01"]["namespace"], summary
    assert summary["answered"] is True and summary["to"] == OUTSIDE, summary
    assert body["verdict"] == "ok"
    counted = [h for h in body["hops"] if "active" in h]
    snat = next(h["active"] for h in counted if h["node"].startswith(f"netns:{HOST}:qrouter-"))
    assert any("SNAT" in m["counter"] and m["by"] >= 1 for m in snat["moved"]), snat
    # br-int's flows are cited where the packet enters it: on cirros-01's qvo (its anti-spoofing table)
    qvo = next(
        h["active"] for h in counted if h["node"] == f"iface:{HOST}:-:qvo{lab['vms']['cirros-01']['port_id'][:11]}"
    )
    assert any(m["counter"].startswith("table=25,") and m["by"] >= 1 for m in qvo["moved"]), qvo
    assert summary["hops_moved"] >= 3 and summary["probes_sent"] >= 5, summary


def test_only_an_admin_may_send_and_an_agent_without_active_probes_sends_nothing(lab: dict[str, Any]) -> None:
    demo = login(lab, "demo")
    response = active(demo, server(lab, "cirros-01"), OUTSIDE)
    assert response.status_code == 403, response.content[:300]
    with agent_feed(settings.DATABASES["default"]["NAME"], LOGS):  # active_probes left off
        wait_connected(HOST)
        refresh_all(lab["host"])
        response = active(login(lab, "admin"), server(lab, "cirros-01"), OUTSIDE)
    assert response.status_code == 400
    assert "active_probes is off" in response.json()["detail"]
