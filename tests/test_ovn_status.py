"""The status API's ``backend``: the ML2 mechanism from Neutron's agents, OVN's databases for admins."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, override_settings

from tests.browser import caller, session_for
from topology import services
from topology.kinds import OVN_SNAPSHOT_KEY, AgentType, Backend

pytestmark = [pytest.mark.django_db]

SB_DOWN = "OVN_Southbound at unix:/nowhere/sb.sock: [Errno 2] No such file or directory"


def backend(admin: bool) -> dict[str, Any]:
    client = Client()
    client.cookies["sessionid"] = session_for(caller("demo", "demo-p", admin=admin))
    response = client.get("/api/v1/status/")
    assert response.status_code == 200, response.content[:300]
    body: dict[str, Any] = response.json()["backend"]
    return body


@override_settings(OVN_NB_CONNECTION="unix:/nowhere/nb.sock", OVN_SB_CONNECTION="unix:/nowhere/sb.sock")
def test_an_ovn_cloud_says_its_databases_to_admins_and_only_its_mechanism_to_projects() -> None:
    agents = [{"agent_type": AgentType.OVN_CONTROLLER, "host": "c1"}]
    ovn: dict[str, Any] = {"nb": {"logical_switches": []}, "sb": None, "errors": [SB_DOWN]}
    services.store_snapshot({"agents": agents, OVN_SNAPSHOT_KEY: ovn}, "lab-admin")
    assert backend(admin=True) == {
        "mechanism": Backend.ML2_OVN,
        "ovn": {
            "nb": {"configured": True, "reachable": True, "error": None},
            "sb": {"configured": True, "reachable": False, "error": SB_DOWN},
            "monitor": None,  # no `manage.py monitor_ovn` runs: changes wait for the next refresh
        },
    }
    assert backend(admin=False) == {"mechanism": Backend.ML2_OVN}


@override_settings(OVN_NB_CONNECTION="", OVN_SB_CONNECTION="")
def test_an_ovn_cloud_without_its_databases_configured_says_so() -> None:
    services.store_snapshot({"agents": [{"agent_type": AgentType.OVN_CONTROLLER_GATEWAY}]}, "lab-admin")
    off = {"configured": False, "reachable": False, "error": None}
    assert backend(admin=True) == {"mechanism": Backend.ML2_OVN, "ovn": {"nb": off, "sb": off, "monitor": None}}


@override_settings(OVN_NB_CONNECTION="unix:/nowhere/nb.sock", OVN_SB_CONNECTION="unix:/nowhere/sb.sock")
def test_a_running_monitor_says_its_databases_to_admins_only() -> None:
    """The state a real OvnMonitor writes (its databases unreachable here: the state says so)."""
    from topology import ingest_queue
    from topology.ovn.collect import OvnRemotes
    from topology.ovn.monitor import OvnMonitor
    from topology.ovn.monitor_apply import STATE_KEY, write_state

    services.store_snapshot({"agents": [{"agent_type": AgentType.OVN_CONTROLLER}]}, "lab-admin")
    monitor = OvnMonitor(OvnRemotes("unix:/nowhere/nb.sock", "unix:/nowhere/sb.sock", timeout=1), lambda _ovn: None)
    monitor.connect_missing(0.0)
    write_state(monitor)
    try:
        said = backend(admin=True)["ovn"]["monitor"]
        assert [(d["schema"], d["connected"]) for d in said["databases"]] == [
            ("OVN_Northbound", False),
            ("OVN_Southbound", False),
        ]
        assert all("/nowhere/" in d["error"] for d in said["databases"]) and said["last_change_at"] is None
        assert backend(admin=False) == {"mechanism": Backend.ML2_OVN}  # remotes and errors: admins only
    finally:
        ingest_queue.client().delete(STATE_KEY)


def test_an_ml2_ovs_cloud_and_no_snapshot() -> None:
    assert backend(admin=True) == {"mechanism": Backend.UNKNOWN}
    services.store_snapshot({"agents": [{"agent_type": AgentType.OPEN_VSWITCH}]}, "lab-admin")
    assert backend(admin=True) == {"mechanism": Backend.ML2_OVS}
