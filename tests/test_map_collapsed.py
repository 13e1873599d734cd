"""The map at scale through the REST API (no lab: the synthetic cloud as the current graph): the collapsed
physical view, one host's content, search; scoped, and re-read by part."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from typing import Any

import orjson
import pytest
from django.test import Client

from bench.synthetic import synthetic_cloud
from tests.browser import caller, session_for
from tests.leak_check import leaks, object_tokens
from tests.map_fixtures import project_of, publish_graph
from topology import hostviews
from topology.collapsed import summarize
from topology.freshness import mark_stale
from topology.join import join
from topology.models import GraphPart, GraphState
from topology.quarantine import Quarantined
from topology.scope import scope_graph

pytestmark = [pytest.mark.django_db]
HOSTS, PORTS = 4, 12  # port n on compute{n % 4}, of project n % 2; compute0000 also serves both projects' routers
DEMO, ALT = project_of(0), project_of(1)
ADMIN = caller("admin", "admin", admin=True)


def client_for(who: Any) -> Client:
    client = Client()
    client.cookies["sessionid"] = session_for(who)
    return client


@pytest.fixture
def cloud() -> dict[str, Any]:
    hostviews.forget()
    data, reports = synthetic_cloud(HOSTS, PORTS, 2, 1)
    publish_graph(join(data, reports).to_dict())
    return data


def get(client: Client, url: str, **params: Any) -> tuple[int, Any, str]:
    response = client.get(url, params)
    text = response.content.decode()
    return response.status_code, json.loads(text), text


def secrets_of(cloud: dict[str, Any], project: str, caller_project: str) -> set[str]:
    """leak_check's project_secrets, asked of the synthetic cloud instead of Neutron."""

    def objects(p: str) -> list[dict[str, Any]]:
        return [
            o for key in ("networks", "subnets", "ports", "routers") for o in cloud[key] if o.get("project_id") == p
        ]

    public = [cloud["networks"][0], cloud["subnets"][0]]
    theirs = {t for o in objects(project) for t in object_tokens(o)}
    theirs |= {s["name"] for s in cloud["servers"] if s["tenant_id"] == project}
    mine = {t for o in objects(caller_project) + public for t in object_tokens(o)}
    # the synthetic cloud gives a VM's interfaces mac(n) by VM number, the same MACs as other projects'
    # router and DHCP ports (mac(small n)): the caller's own interfaces' MACs are not secrets
    graph = GraphState.objects.get().graph
    visible = scope_graph(graph, "physical", caller_project)["nodes"]
    mine |= {str(n["attrs"].get("mac")) for n in visible if n["kind"] == "iface"}
    return theirs - mine - {"", "admin"}


def test_the_collapsed_view_has_every_host_with_its_counts_and_the_tunnels_between_hosts(cloud: dict[str, Any]) -> None:
    status, body, _ = get(client_for(ADMIN), "/api/v1/topology/", view="physical", collapsed="1")
    assert status == 200 and body["collapsed"] is True
    assert {n["kind"] for n in body["nodes"]} == {"host"}
    assert [n["id"] for n in body["nodes"]] == [f"host:compute{i:04d}" for i in range(HOSTS)]
    graph = GraphState.objects.get().graph
    by_kind = Counter((n.get("host"), n["kind"]) for n in graph["nodes"])
    for node in body["nodes"]:
        host, counts = node["label"], node["attrs"]["collapsed"]
        assert counts["interfaces"] == by_kind[(host, "iface")] > 0
        assert counts["namespaces"] == by_kind[(host, "netns")]
        assert counts["bridges"] == by_kind[(host, "bridge")] > 0
        assert counts["ports"] == by_kind[(host, "port")] > 0
        warnings = sum(len(n["attrs"].get("warnings", ())) for n in graph["nodes"] if n.get("host") == host)
        assert counts["state"] == "up" and counts["warnings"] == warnings
    assert body["totals"]["hosts"] == HOSTS
    assert body["totals"]["nodes"] == sum(
        1 for n in graph["nodes"] if n["kind"] in ("host", "iface", "netns", "bridge")
    )
    # every pair of the 4 hosts is tunnelled (8 peers each): one link per pair, its tunnels counted
    pairs = {(e["source"], e["target"]) for e in body["edges"]}
    assert len(pairs) == 6 and all(e["kind"] == "tunnel" and e["count"] >= 1 for e in body["edges"])
    tunnels = [e for e in graph["edges"] if e["kind"] == "tunnel"]
    assert sum(e["count"] for e in body["edges"]) == len(tunnels)


def test_a_new_revision_rereads_only_the_parts_the_writer_rewrote(cloud: dict[str, Any]) -> None:
    client = client_for(ADMIN)
    get(client, "/api/v1/topology/", view="physical", collapsed="1")
    before = dict(hostviews.ADMIN.parts)
    # what the writer does for one host's report: rewrite that part at the next revision
    state = GraphState.objects.get()
    part = GraphPart.objects.get(key="host:compute0002")
    data = orjson.loads(bytes(part.body))
    gone = next(n["id"] for n in data["nodes"] if n["kind"] == "iface" and n["label"].startswith("qvb"))
    data["nodes"] = [n for n in data["nodes"] if n["id"] != gone]
    data["edges"] = [e for e in data["edges"] if gone not in e[:2]]
    GraphState.objects.filter(id=state.id).update(revision=state.revision + 1)
    GraphPart.objects.filter(key=part.key).update(revision=state.revision + 1, body=orjson.dumps(data))
    _, body, _ = get(client, "/api/v1/topology/", view="physical", collapsed="1")
    after = hostviews.ADMIN.parts
    assert body["revision"] == state.revision + 1
    assert [k for k in after if after[k][1] is not before[k][1]] == ["host:compute0002"]
    counts = {n["label"]: n["attrs"]["collapsed"]["interfaces"] for n in body["nodes"]}
    assert counts["compute0002"] == before["host:compute0002"][1].summaries["compute0002"].counts["interfaces"] - 1


def test_a_stale_host_is_drawn_stale(cloud: dict[str, Any]) -> None:
    graph = GraphState.objects.get().graph
    publish_graph(mark_stale(json.loads(json.dumps(graph)), {"compute0001": "2026-12-02T10:00:00+00:00"}))
    _, body, _ = get(client_for(ADMIN), "/api/v1/topology/", view="physical", collapsed="1")
    states = {n["label"]: n["attrs"]["collapsed"]["state"] for n in body["nodes"]}
    assert states == {"compute0000": "up", "compute0001": "stale", "compute0002": "up", "compute0003": "up"}
    warned = {n["label"]: n["attrs"]["collapsed"]["warnings"] for n in body["nodes"]}
    assert warned["compute0001"] == warned["compute0003"] + 1  # the stale warning (the two hosts are alike)


@pytest.mark.parametrize(
    ("me", "them", "mine", "not_mine"),
    [
        (DEMO, ALT, {"compute0000", "compute0002"}, {"compute0001", "compute0003"}),
        (ALT, DEMO, {"compute0000", "compute0001", "compute0003"}, {"compute0002"}),
    ],
)
def test_a_tenant_sees_only_the_hosts_of_its_ports_and_its_own_counts(
    cloud: dict[str, Any], me: str, them: str, mine: set[str], not_mine: set[str]
) -> None:
    client = client_for(caller("member", me))
    secrets = secrets_of(cloud, them, me)
    assert len(secrets) > 10
    _, body, text = get(client, "/api/v1/topology/", view="physical", collapsed="1")
    assert {n["label"] for n in body["nodes"]} == mine
    assert leaks(text, secrets) == []
    own_ports = Counter(
        p["binding:host_id"] for p in cloud["ports"] if p["project_id"] == me and p["device_owner"] == "compute:nova"
    )
    for node in body["nodes"]:
        # its VM ports, plus on compute0000 its router's and DHCP port
        assert node["attrs"]["collapsed"]["ports"] == own_ports[node["label"]] + (
            2 if node["label"] == "compute0000" else 0
        )
        assert "agents" not in node["attrs"] and "tunnel_ip" not in node["attrs"]
    for host in mine:
        status, content, text = get(client, f"/api/v1/topology/hosts/{host}/", view="physical")
        assert status == 200 and leaks(text, secrets) == []
        assert content["nodes"] and all(n.get("host") == host for n in content["nodes"])
    for host in not_mine | {"nosuchhost"}:
        status, content, text = get(client, f"/api/v1/topology/hosts/{host}/")
        assert (status, content) == (404, {"detail": "no such host"})
    theirs = [p for p in cloud["ports"] if p["project_id"] == them and p["device_owner"] == "compute:nova"]
    their_names = ("vm-11", "router-1", "net-1") if them == ALT else ("vm-10", "router-0", "net-0")
    for query in (theirs[0]["fixed_ips"][0]["ip_address"], theirs[0]["mac_address"], theirs[0]["id"][:8], *their_names):
        status, found, text = get(client, "/api/v1/topology/search/", q=query)
        assert (status, found["results"]) == (200, []), query
        assert leaks(text, secrets) == [], query
    own = next(p for p in cloud["ports"] if p["project_id"] == me and p["device_owner"] == "compute:nova")
    _, found, _ = get(client, "/api/v1/topology/search/", q=own["fixed_ips"][0]["ip_address"])
    assert found["results"][0]["id"] == f"port:{own['id']}"


def test_a_host_s_content_is_its_interfaces_bridges_and_namespaces(cloud: dict[str, Any]) -> None:
    client = client_for(ADMIN)
    status, content, _ = get(client, "/api/v1/topology/hosts/compute0001/", view="physical")
    assert status == 200 and content["host"] == "compute0001"
    graph = GraphState.objects.get().graph
    expected = {
        n["id"]
        for n in graph["nodes"]
        if n.get("host") == "compute0001" and n["kind"] in ("host", "iface", "bridge", "netns")
    }
    assert {n["id"] for n in content["nodes"]} == expected
    ids = {n["id"] for n in content["nodes"]}
    assert content["edges"] and all(e["source"] in ids and e["target"] in ids for e in content["edges"])
    status, full, _ = get(client, "/api/v1/topology/hosts/compute0001/", view="full")
    assert any(n["kind"] == "port" for n in full["nodes"])
    assert get(client, "/api/v1/topology/hosts/compute0001/", view="nope")[0] == 400
    assert get(client, "/api/v1/topology/hosts/nosuchhost/")[:2] == (404, {"detail": "no such host"})


def test_search_finds_by_ip_mac_id_prefix_and_name_and_points_at_the_port_s_device(cloud: dict[str, Any]) -> None:
    client = client_for(ADMIN)
    port = next(
        p for p in cloud["ports"] if p["device_owner"] == "compute:nova" and p["binding:host_id"] == "compute0003"
    )
    want = {
        "id": f"port:{port['id']}",
        "kind": "port",
        "host": "compute0003",
        "focus": f"iface:compute0003:-:tap{port['id'][:11]}",
    }
    for query in (port["fixed_ips"][0]["ip_address"], port["mac_address"].upper(), port["id"][:13]):
        _, found, _ = get(client, "/api/v1/topology/search/", q=query)
        first = found["results"][0]
        assert {k: first.get(k) for k in want} == want, query
    _, found, _ = get(client, "/api/v1/topology/search/", q="vm-7")
    assert found["results"][0]["kind"] == "server" and found["results"][0]["label"] == "vm-7"
    _, found, _ = get(client, "/api/v1/topology/search/", q="compute", limit=3)
    assert len(found["results"]) == 3
    assert get(client, "/api/v1/topology/search/", q="")[0] == 400
    assert get(client, "/api/v1/topology/search/", q="x", limit=500)[0] == 400


def test_the_collapsed_body_is_gzipped_when_asked(cloud: dict[str, Any]) -> None:
    response = client_for(ADMIN).get(
        "/api/v1/topology/", {"view": "physical", "collapsed": "1"}, HTTP_ACCEPT_ENCODING="gzip"
    )
    assert response["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(response.content))["collapsed"] is True


def test_a_quarantined_host_says_so() -> None:
    """Pure: the host whose report could not be joined carries quarantine.py's warning on its node."""
    data, reports = synthetic_cloud(2, 4, 1, 1)
    graph = join(data, reports).to_dict()
    host = next(n for n in graph["nodes"] if n["id"] == "host:compute0001")
    host["attrs"]["warnings"] = [Quarantined("the join failed on it: KeyError", kept_last=True).warning("compute0001")]
    summaries = summarize(graph["nodes"], graph["edges"])
    assert summaries["compute0001"].state() == "quarantined"
    assert summaries["compute0000"].state() == "up"
    node = summaries["compute0001"].collapsed_node()
    assert node is not None and node["attrs"]["collapsed"]["state"] == "quarantined"
