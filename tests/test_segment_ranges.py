"""A VLAN range with no free id (issue 15), without a cloud: the join's warning, its tenant form, the routers page."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.browser import caller, session_for
from topology import services
from topology.join import logical_part
from topology.join.segment_ranges import SNAPSHOT_KEY, full_physnets, full_range_messages, tenant_form
from topology.scope import scope_graph

JsonDict = dict[str, Any]
DEMO, ALT, ADMIN = caller("demo", "p-demo"), caller("alt", "p-alt"), caller("admin", "p-admin", admin=True)
FULL = "no VLAN ids free on physnet1: VLAN range 100-104 (5 ids) all in use; new VLAN networks will be refused"
FOR_MEMBERS = "no VLAN ids free on physnet1: new VLAN networks will be refused"


def vlan_range(available: list[int], **kw: Any) -> JsonDict:
    used = {str(i): "p-alt" for i in range(100, 105) if i not in available}
    return {
        "id": "r-1",
        "default": True,
        "shared": True,
        "network_type": "vlan",
        "physical_network": "physnet1",
        "minimum": 100,
        "maximum": 104,
        "available": available,
        "used": used,
        **kw,
    }


def network(net_id: str, project: str, segid: int | None, physnet: str = "physnet1", kind: str = "vlan") -> JsonDict:
    return {
        "id": net_id,
        "name": f"name-{net_id}",
        "project_id": project,
        "status": "ACTIVE",
        "provider:network_type": kind,
        "provider:physical_network": physnet,
        "provider:segmentation_id": segid,
    }


def cloud(ranges: list[JsonDict]) -> JsonDict:
    return {
        "networks": [
            network("alt-net-1", "p-alt", 100),
            network("alt-net-2", "p-alt", 101),
            network("demo-net-1", "p-demo", 102),
            network("demo-net-2", "p-demo", 103),
            network("alt-net-3", "p-alt", 104),
            {**network("public", "p-admin", None, "external", "flat"), "router:external": True},
        ],
        SNAPSHOT_KEY: ranges,
    }


def warnings_of(graph: JsonDict) -> dict[str, list[str]]:
    return {n["id"]: n["attrs"]["warnings"] for n in graph["nodes"] if n["attrs"].get("warnings")}


def joined(snapshot: JsonDict) -> JsonDict:
    part = logical_part(snapshot)
    return {
        "nodes": list(part.nodes.values()),
        "edges": [{"source": s, "target": t, "kind": k} for s, t, k in part.edges],
    }


def test_a_range_with_an_id_available_is_not_full() -> None:
    assert full_physnets([vlan_range([104])]) == []
    assert full_range_messages(cloud([vlan_range([104])])) == []


def test_a_range_with_no_id_available_names_its_physnet_range_and_size() -> None:
    (full,) = full_physnets([vlan_range([])])
    assert (full.physical_network, full.ranges, full.size) == ("physnet1", ((100, 104),), 5)
    assert full.message() == FULL
    assert full_range_messages(cloud([vlan_range([])])) == [FULL]


def test_a_physnet_is_full_only_when_all_its_shared_ranges_are() -> None:
    second = vlan_range([200], id="r-2", default=False, minimum=200, maximum=201)
    assert full_physnets([vlan_range([]), second]) == []
    (full,) = full_physnets([second | {"available": []}, vlan_range([])])
    assert full.ranges == ((100, 104), (200, 201)) and "VLAN ranges 100-104, 200-201 (7 ids)" in full.message()


def test_a_projects_own_range_tunnels_and_other_physnets_are_not_the_shared_vlan_ranges() -> None:
    own = vlan_range([], default=False, shared=False, project_id="p-alt")
    vxlan = vlan_range([], network_type="vxlan", physical_network="")
    assert full_physnets([own, vxlan]) == []
    assert [f.physical_network for f in full_physnets([vlan_range([]), vlan_range([], physical_network="b")])] == [
        "b",
        "physnet1",
    ]


def test_no_ranges_in_the_snapshot_says_nothing() -> None:
    """Without the network_segment_range plugin, or collected by a non-admin, the snapshot has none."""
    assert warnings_of(joined({"networks": cloud([])["networks"]})) == {}
    assert warnings_of(joined(cloud([]))) == {}


def test_the_join_warns_on_each_vlan_network_of_the_full_physnet_only() -> None:
    graph = joined(cloud([vlan_range([])]))
    vlan_nets = {"alt-net-1", "alt-net-2", "alt-net-3", "demo-net-1", "demo-net-2"}
    assert warnings_of(graph) == {f"network:{n}": [FULL] for n in vlan_nets}
    assert warnings_of(joined(cloud([vlan_range([103])]))) == {}


def test_a_member_sees_it_on_their_own_networks_only_and_without_the_range() -> None:
    """demo vs alt and alt vs demo: each sees the warning on their own networks, never the other's
    networks' ids or names, nor the range (ML2's configuration) in any string."""
    graph = joined(cloud([vlan_range([])]))
    for project, own, other in (("p-demo", "demo-net", "alt-net"), ("p-alt", "alt-net", "demo-net")):
        scoped = scope_graph(graph, "full", project)
        found = warnings_of(scoped)
        assert found and all(i.startswith(f"network:{own}") for i in found), found
        assert all(w == [FOR_MEMBERS] for w in found.values())
        text = str(scoped)
        assert other not in text and "100-104" not in text and "p-alt" not in text.replace(project, "")
    assert warnings_of(scope_graph(graph, "full", None))["network:demo-net-1"] == [FULL]


def test_the_tenant_form_leaves_other_warnings_alone() -> None:
    assert tenant_form(FULL) == FOR_MEMBERS
    assert tenant_form("port not bound") == "port not bound"


def client_for(who: object) -> Client:
    client = Client()
    client.cookies["sessionid"] = session_for(who)  # type: ignore[arg-type]
    return client


@pytest.mark.django_db
def test_the_routers_page_says_it_as_the_last_refresh_read_it() -> None:
    assert "vlan-range-full" not in client_for(ADMIN).get("/routers/").content.decode()
    services.store_snapshot(cloud([vlan_range([])]), "synthetic")
    admin = client_for(ADMIN).get("/routers/").content.decode()
    assert f'<p class="warn vlan-range-full">{FULL}</p>' in admin
    for member in (DEMO, ALT):
        page = client_for(member).get("/routers/").content.decode()
        assert f'<p class="warn vlan-range-full">{FOR_MEMBERS}</p>' in page
        assert "100-104" not in page and "net-" not in page
    services.store_snapshot(cloud([vlan_range([102])]), "synthetic")
    assert "vlan-range-full" not in client_for(ADMIN).get("/routers/").content.decode()
