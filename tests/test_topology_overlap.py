"""Overlapping tenant subnets for real (scenario overlap, seed 004): joined and explained apart."""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_path_dvr import OUTSIDE, crossed, server
from tests.test_topology_dvr import joined
from tests.test_topology_lab import has_edge
from topology.api import StoredReports
from topology.path import explain

pytestmark = [pytest.mark.lab, pytest.mark.django_db]


@pytest.fixture
def overlap_graph(overlap_lab: dict[str, Any]) -> dict[str, Any]:
    return joined(overlap_lab)


def test_overlapping_vms_are_joined_to_their_own_ports_and_routers(
    overlap_lab: dict[str, Any], overlap_graph: dict[str, Any]
) -> None:
    vms = overlap_lab["vms"]
    assert vms["vm01"]["ip"] == vms["vm02"]["ip"] == "192.168.101.3"
    host = overlap_lab.get("host", "controller")
    subnet_of = {}
    for name, net in (("vm01", "net01"), ("vm02", "net02")):
        port = f"port:{vms[name]['port_id']}"
        assert has_edge(overlap_graph, port, f"iface:{host}:-:qvo{vms[name]['port_id'][:11]}", "binds")
        assert has_edge(overlap_graph, port, f"network:{overlap_lab['networks'][net]}", "on_network")
        subnet_of[name] = next(
            e["target"] for e in overlap_graph["edges"] if e["source"] == port and e["kind"] == "in_subnet"
        )
    assert subnet_of["vm01"] != subnet_of["vm02"]
    for name, router in (("vm01", "router01"), ("vm02", "router02")):
        other = "vm02" if name == "vm01" else "vm01"
        interfaces = [
            e["target"]
            for e in overlap_graph["edges"]
            if e["kind"] == "router_interface" and e["source"] == f"router:{overlap_lab['routers'][router]['id']}"
        ]
        attached = {
            e["target"] for e in overlap_graph["edges"] if e["kind"] == "in_subnet" and e["source"] in interfaces
        }
        assert subnet_of[name] in attached and subnet_of[other] not in attached, router


def test_each_overlapping_vm_goes_out_through_its_own_router(
    overlap_lab: dict[str, Any], overlap_graph: dict[str, Any]
) -> None:
    from lab import api

    vms, routers = overlap_lab["vms"], overlap_lab["routers"]
    for name, own, other in (("vm01", "router01", "router02"), ("vm02", "router02", "router01")):
        result = explain(overlap_graph, StoredReports(), server(overlap_lab, name), OUTSIDE)
        assert (result["scenario"], result["verdict"]) == ("north-south-fip", "ok"), result
        hops = crossed(result)
        assert f"netns:controller:qrouter-{routers[own]['id']}" in hops
        assert f"netns:controller:qrouter-{routers[other]['id']}" not in hops
        assert any(f"--to-source {vms[name]['floating_ip']}" in h["evidence"] for h in result["hops"])
        assert api.ping(name, OUTSIDE, timeout=120)
        inbound = explain(overlap_graph, StoredReports(), OUTSIDE, vms[name]["floating_ip"])
        assert inbound["verdict"] == "ok"
        assert f"netns:controller:qrouter-{routers[own]['id']}" in crossed(inbound)
        assert inbound["hops"][-1]["node"].endswith(f"vm-{name}")
