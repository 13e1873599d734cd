"""The explainer on the real two-host DVR lab: seed 001's three walks, proven by real pings.

Each walk is explained on the joined graph of both hosts, then pinged for real;
the hops must name the namespaces and devices the packet really crosses on each
host. A broken state (compute2's L3 agent stopped) is made for real and undone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openstack.connection
import pytest

from tests.broken_states import l3_agent_stopped
from tests.path_proof import nat_packets, outside_sees_the_explained_exit
from tests.test_topology_dvr import joined
from topology.api import StoredReports
from topology.path import explain

pytestmark = [pytest.mark.lab, pytest.mark.django_db]

OUTSIDE = "192.168.1.1"


def walk(state: dict[str, Any], src: str, dst: str) -> dict[str, Any]:
    return explain(joined(state), StoredReports(), src, dst)


def server(state: dict[str, Any], vm: str) -> str:
    return f"server:{state['vms'][vm]['server_id']}"


def crossed(result: dict[str, Any]) -> list[str]:
    return [h["node"] for h in result["hops"]]


def in_order(hops: list[str], expected: list[str]) -> bool:
    try:
        first = [hops.index(h) for h in expected]
    except ValueError:
        return False
    return first == sorted(first)


def test_snat_walk_from_compute2_goes_through_host1s_snat_namespace(dvr_lab: dict[str, Any]) -> None:
    from lab import api

    router = dvr_lab["routers"]["dvr-router"]["id"]
    graph = joined(dvr_lab)
    result = explain(graph, StoredReports(), server(dvr_lab, "vm-app-1"), OUTSIDE)
    assert (result["scenario"], result["verdict"]) == ("north-south-snat-dvr", "ok"), result
    hops = crossed(result)
    assert in_order(
        hops,
        [
            "bridge:compute2:br-int",
            f"netns:compute2:qrouter-{router}",
            "bridge:compute2:br-tun",
            "bridge:controller:br-tun",
            f"netns:controller:snat-{router}",
            "bridge:controller:br-ex",
        ],
    )
    snat = next(h for h in result["hops"] if h["node"] == f"netns:controller:snat-{router}")
    assert f"--to-source {dvr_lab['routers']['dvr-router']['gateway_ip']}" in snat["evidence"]
    assert api.ping("vm-app-1", OUTSIDE, timeout=120)
    # the outside sees the snat namespace's qg- MAC and the gateway address; host 1's rule counts them
    outside_sees_the_explained_exit(result, graph, lambda: api.ping("vm-app-1", OUTSIDE, timeout=30))
    assert nat_packets(walk(dvr_lab, server(dvr_lab, "vm-app-1"), OUTSIDE)) > nat_packets(result)


def test_fip_walks_use_the_local_fip_namespace_both_ways(dvr_lab: dict[str, Any]) -> None:
    from lab import api

    router, public = dvr_lab["routers"]["dvr-router"]["id"], dvr_lab["networks"]["public"]
    web = dvr_lab["vms"]["vm-web-1"]
    # The data plane first (the first ping on a new path is often lost while agents finish),
    # then the explanation of that live state.
    assert api.ping("vm-web-1", OUTSIDE, timeout=120)
    graph = joined(dvr_lab)
    out = explain(graph, StoredReports(), server(dvr_lab, "vm-web-1"), OUTSIDE)
    assert (out["scenario"], out["verdict"]) == ("north-south-fip-dvr", "ok"), out
    assert in_order(
        crossed(out),
        [
            f"netns:controller:qrouter-{router}",
            f"iface:controller:qrouter-{router}:rfp-{router[:10]}",
            f"iface:controller:fip-{public}:fpr-{router[:10]}",
            f"netns:controller:fip-{public}",
            "bridge:controller:br-ex",
        ],
    )
    # the outside sees the fip namespace's fg- MAC (not the router's) and the floating IP
    outside_sees_the_explained_exit(out, graph, lambda: api.ping("vm-web-1", OUTSIDE, timeout=30))
    assert nat_packets(walk(dvr_lab, server(dvr_lab, "vm-web-1"), OUTSIDE)) > nat_packets(out)
    db = dvr_lab["vms"]["vm-db-1"]
    inbound = walk(dvr_lab, OUTSIDE, db["floating_ip"])
    assert (inbound["scenario"], inbound["verdict"]) == ("inbound-fip-dvr", "ok"), inbound
    hops = crossed(inbound)
    assert in_order(
        hops,
        [
            f"netns:compute2:fip-{public}",
            f"iface:compute2:fip-{public}:fpr-{router[:10]}",
            f"iface:compute2:qrouter-{router}:rfp-{router[:10]}",
            f"netns:compute2:qrouter-{router}",
        ],
    )
    assert not any(h.startswith("netns:controller:") for h in hops)  # compute2 answers for its own FIP
    dnat = next(h for h in inbound["hops"] if h["node"] == f"netns:compute2:qrouter-{router}")
    assert f"--to-destination {db['ip']}" in dnat["evidence"]
    assert api.ping("outside", db["floating_ip"], timeout=120)
    assert api.ping("outside", web["floating_ip"], timeout=120)


def test_east_west_across_hosts_is_routed_on_the_senders_host(dvr_lab: dict[str, Any]) -> None:
    from lab import api

    router = dvr_lab["routers"]["dvr-router"]["id"]
    result = walk(dvr_lab, server(dvr_lab, "vm-web-1"), server(dvr_lab, "vm-db-1"))
    assert (result["scenario"], result["verdict"]) == ("east-west-dvr", "ok"), result
    hops = crossed(result)
    assert in_order(
        hops,
        [
            f"netns:controller:qrouter-{router}",
            "bridge:controller:br-tun",
            "bridge:compute2:br-tun",
            "bridge:compute2:br-int",
        ],
    )
    assert f"netns:compute2:qrouter-{router}" not in hops  # seed 001: not through compute2's qrouter
    assert f"netns:compute2:qrouter-{router}" in [h["node"] for h in result["return_hops"]]
    assert any("DVR MAC" in h["what"] for h in result["hops"])
    assert api.ping("vm-web-1", dvr_lab["vms"]["vm-db-1"]["ip"], timeout=120)


@pytest.fixture
def compute2_l3_agent_stopped(dvr_lab: dict[str, Any], admin_cloud: openstack.connection.Connection) -> Iterator[None]:
    """compute2's L3 agent stopped for real, until Neutron reports it dead (agent_down_time)."""
    with l3_agent_stopped(admin_cloud, "compute2"):
        yield


def test_a_dead_l3_agent_on_compute2_breaks_what_it_should_set_up(
    dvr_lab: dict[str, Any], admin_cloud: openstack.connection.Connection, compute2_l3_agent_stopped: None
) -> None:
    from lab import api

    app = dvr_lab["vms"]["vm-app-1"]  # on compute2, no floating IP yet
    fip = admin_cloud.network.create_ip(
        floating_network_id=dvr_lab["networks"]["public"],
        port_id=app["port_id"],
        project_id=dvr_lab["projects"]["demo"],
    )
    try:
        result = walk(dvr_lab, OUTSIDE, fip.floating_ip_address)
        assert result["scenario"] == "inbound-fip-dvr"
        assert result["verdict"] == "broken", result
        dead = [p for p in result["problems"] if p["code"] == "agent_dead"]
        assert dead and dead[0]["severity"] == "fail" and "L3 agent on compute2" in dead[0]["message"]
        assert not api.ping("outside", fip.floating_ip_address, timeout=20)
        # what the agent set up before it died still works, and says so
        db = walk(dvr_lab, OUTSIDE, dvr_lab["vms"]["vm-db-1"]["floating_ip"])
        assert db["verdict"] == "ok" and {p["code"]: p["severity"] for p in db["problems"]}["agent_dead"] == "warn"
        assert api.ping("outside", dvr_lab["vms"]["vm-db-1"]["floating_ip"], timeout=60)
    finally:
        admin_cloud.network.delete_ip(fip)


def test_east_west_leaves_host1s_br_tun_with_host1s_dvr_mac(dvr_lab: dict[str, Any]) -> None:
    """Captured on host 1's underlay link: the inner source MAC of the routed echo request is the
    DVR MAC Neutron gave host 1 (its dvr_host_macs table), the one the explainer names."""
    from lab import api, capture, database, hosts

    web, db = dvr_lab["vms"]["vm-web-1"], dvr_lab["vms"]["vm-db-1"]
    assert api.ping("vm-web-1", db["ip"], timeout=120)
    result = walk(dvr_lab, server(dvr_lab, "vm-web-1"), server(dvr_lab, "vm-db-1"))
    tun = next(h for h in result["hops"] if h["node"] == "bridge:controller:br-tun")
    named = tun["evidence"].split()[2].rstrip(":")  # "DVR MAC fa:16:3f:..: <flow>"
    rows = database.psql("SELECT host, mac_address FROM dvr_host_macs", db=database.DB_NAME).split()
    dvr_macs = {host: mac.replace("-", ":").lower() for host, mac in (row.split("|") for row in rows)}
    assert named == dvr_macs["controller"] != dvr_macs["compute2"]
    assert "table=1," in tun["flows"][0] and named in tun["flows"][0]  # DVR_PROCESS rewrites the source MAC
    seen = capture.vxlan_echo_requests(lambda: api.ping("vm-web-1", db["ip"], timeout=30), hosts.TUNNEL_LINKS[0])
    private2_vni = next(n for n in joined(dvr_lab)["nodes"] if n["id"] == f"network:{dvr_lab['networks']['private2']}")
    assert (private2_vni["attrs"]["segmentation_id"], named, web["ip"], db["ip"]) in seen, seen
    assert not any(mac == web["mac"] for _, mac, _, _ in seen), "the VM's own MAC never crosses the tunnel"
