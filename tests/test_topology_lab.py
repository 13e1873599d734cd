"""The joined topology of the real lab (scenario allinone): collector + node agent + join + API."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import openstack.connection
import pytest
from django.test import Client
from keystoneauth1 import session as ksa_session
from keystoneauth1.identity import v3

from tests.conftest import lab_password
from topology import services
from topology.agent.collect import collect_report
from topology.models import CloudSnapshot, GraphState

pytestmark = [pytest.mark.lab, pytest.mark.django_db]


def refresh_all(host: str) -> GraphState:
    """What the Celery beat and the node agent do, done once now."""
    services.store_report(host, dict(collect_report(host)), 0)
    services.refresh_cloud()
    return services.graph_state()


@pytest.fixture
def graph(lab: dict[str, Any]) -> dict[str, Any]:
    return refresh_all(lab["host"]).graph


def nodes(graph: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["id"]: n for n in graph["nodes"]}


def has_edge(graph: dict[str, Any], a: str, b: str, kind: str) -> bool:
    return any(e["kind"] == kind and {e["source"], e["target"]} == {a, b} for e in graph["edges"])


def members(graph: dict[str, Any], parent: str) -> list[str]:
    return [e["target"] for e in graph["edges"] if e["kind"] == "member" and e["source"] == parent]


def test_router1_is_joined_to_its_qrouter_namespace(lab: dict[str, Any], graph: dict[str, Any]) -> None:
    host, router = lab["host"], lab["routers"]["router1"]["id"]
    ns = f"netns:{host}:qrouter-{router}"
    assert has_edge(graph, f"router:{router}", ns, "binds")
    by_id = nodes(graph)
    inside = [by_id[i] for i in members(graph, ns)]
    qr = [n for n in inside if n["label"].startswith("qr-")]
    qg = [n for n in inside if n["label"].startswith("qg-")]
    assert len(qr) == 1 and "10.0.0.1/24" in qr[0]["attrs"]["addresses"]
    assert qr[0]["attrs"]["describe"].startswith("qr interface of router router1")
    assert len(qg) == 1 and f"{lab['routers']['router1']['gateway_ip']}/24" in qg[0]["attrs"]["addresses"]
    # qg- leads to br-ex: Neutron plugs it into br-int (ovs_use_veth: its veth peer tap...) with the
    # external network's local VLAN, and br-int reaches br-ex through the int-br-ex/phy-br-ex patch.
    peers = [
        e["source"] if e["target"] == qg[0]["id"] else e["target"]
        for e in graph["edges"]
        if e["kind"] == "veth" and qg[0]["id"] in (e["source"], e["target"])
    ]
    assert peers and peers[0] in members(graph, f"bridge:{host}:br-int")
    assert isinstance(by_id[peers[0]]["attrs"]["tag"], int)
    assert has_edge(graph, f"iface:{host}:-:int-br-ex", f"iface:{host}:-:phy-br-ex", "patch")
    assert f"iface:{host}:-:phy-br-ex" in members(graph, f"bridge:{host}:br-ex")


def test_cirros_port_is_joined_to_tap_qbr_qvb_qvo(lab: dict[str, Any], graph: dict[str, Any]) -> None:
    host, vm = lab["host"], lab["vms"]["cirros-01"]
    port, id11 = f"port:{vm['port_id']}", vm["port_id"][:11]
    tap, qvb, qvo = (f"iface:{host}:-:{d}{id11}" for d in ("tap", "qvb", "qvo"))
    qbr = f"bridge:{host}:qbr{id11}"
    for device in (tap, qvb, qvo, qbr):
        assert has_edge(graph, port, device, "binds"), device
    assert tap in members(graph, qbr) and qvb in members(graph, qbr)
    assert has_edge(graph, qvb, qvo, "veth")
    assert qvo in members(graph, f"bridge:{host}:br-int")
    tag = nodes(graph)[qvo]["attrs"]["tag"]
    assert isinstance(tag, int) and tag > 0
    assert f"VLAN tag {tag}" in nodes(graph)[qvo]["attrs"]["describe"]
    # the lab's VM namespace stands for the instance, joined through the veth to its tap
    assert has_edge(graph, f"server:{vm['server_id']}", f"netns:{host}:vm-cirros-01", "binds")
    assert nodes(graph)[f"server:{vm['server_id']}"]["label"] == "cirros-01"


def test_the_floating_ip_nats_to_cirros(lab: dict[str, Any], graph: dict[str, Any]) -> None:
    fip = lab["floating_ips"]["cirros-01"]
    assert has_edge(graph, f"fip:{fip['id']}", f"port:{fip['port_id']}", "nat")
    assert nodes(graph)[f"fip:{fip['id']}"]["label"] == fip["floating_ip_address"]


def test_br_int_and_br_tun_are_patched_and_qdhcp_serves_private(lab: dict[str, Any], graph: dict[str, Any]) -> None:
    host = lab["host"]
    int_ports, tun_ports = set(members(graph, f"bridge:{host}:br-int")), set(members(graph, f"bridge:{host}:br-tun"))
    assert any(
        e["kind"] == "patch" and {e["source"], e["target"]} & int_ports and {e["source"], e["target"]} & tun_ports
        for e in graph["edges"]
    )
    private = lab["networks"]["private"]
    assert has_edge(graph, f"network:{private}", f"netns:{host}:qdhcp-{private}", "binds")


def test_a_new_network_shows_in_the_next_revision(
    lab: dict[str, Any], demo_cloud: openstack.connection.Connection, graph: dict[str, Any]
) -> None:
    before = services.graph_state().revision
    name = f"probe-{uuid.uuid4().hex[:6]}"
    net = demo_cloud.network.create_network(name=name)
    try:
        state = refresh_all(lab["host"])
        assert state.revision > before
        assert nodes(state.graph)[f"network:{net.id}"]["label"] == name
    finally:
        demo_cloud.network.delete_network(net)
    state = refresh_all(lab["host"])
    assert f"network:{net.id}" not in nodes(state.graph)


def test_a_new_namespace_on_the_host_shows_in_the_next_revision(lab: dict[str, Any], graph: dict[str, Any]) -> None:
    name = f"probe-{uuid.uuid4().hex[:6]}"
    before = services.graph_state().revision
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        state = refresh_all(lab["host"])
        assert state.revision > before
        assert f"netns:{lab['host']}:{name}" in nodes(state.graph)
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=True)


def test_one_refresh_makes_one_call_per_resource_type(lab: dict[str, Any]) -> None:
    services.refresh_cloud()  # may log in first (version discovery + token)
    services.refresh_cloud()
    # then exactly the 8 list calls (networks, subnets, ports, routers, floatingips,
    # security groups, their rules, agents) and one per scheduling agent (what each L3
    # agent not in dvr mode and each DHCP agent hosts: Neutron lists these per agent only):
    # nothing per port, nothing per browser.
    snapshot = CloudSnapshot.objects.get()
    scheduling = [
        a
        for a in snapshot.data["agents"]
        if a["agent_type"] == "DHCP agent"
        or (a["agent_type"] == "L3 agent" and (a.get("configurations") or {}).get("agent_mode") != "dvr")
    ]
    assert scheduling  # the lab runs an L3 and a DHCP agent
    assert snapshot.api_calls == 9 + len(scheduling)  # 8 lists and the VLAN ranges (a 404 without the plugin)


def keystone_token(lab: dict[str, Any], user: str) -> str:
    auth = v3.Password(
        auth_url=lab["keystone_url"],
        username=user,
        password=lab_password(lab, user),
        project_name=user,
        user_domain_name="Default",
        project_domain_name="Default",
    )
    return str(ksa_session.Session(auth=auth).get_token())


@pytest.fixture
def tokens(lab: dict[str, Any]) -> Iterator[dict[str, str]]:
    yield {user: keystone_token(lab, user) for user in ("demo", "alt", "admin")}


def get_topology(client: Client, token: str | None, view: str = "full") -> Any:
    headers: dict[str, Any] = {"HTTP_X_AUTH_TOKEN": token} if token else {}
    return client.get(f"/api/v1/topology/?view={view}", **headers)


def test_the_api_scopes_the_graph_to_the_callers_project(
    lab: dict[str, Any], graph: dict[str, Any], client: Client, tokens: dict[str, str]
) -> None:
    router, cirros = lab["routers"]["router1"]["id"], lab["vms"]["cirros-01"]
    demo = get_topology(client, tokens["demo"]).json()
    demo_ids = {n["id"] for n in demo["nodes"]}
    assert f"router:{router}" in demo_ids and f"port:{cirros['port_id']}" in demo_ids
    assert f"iface:{lab['host']}:-:qvo{cirros['port_id'][:11]}" in demo_ids
    alt = get_topology(client, tokens["alt"])
    assert alt.status_code == 200
    text = alt.content.decode()
    for secret in (
        router,
        cirros["port_id"],
        cirros["ip"],
        cirros["mac"],
        cirros["port_id"][:11],
        "router1",
        lab["networks"]["private"],
    ):
        assert secret not in text
    assert f"network:{lab['networks']['public']}" in {n["id"] for n in alt.json()["nodes"]}
    admin = get_topology(client, tokens["admin"]).json()
    assert len(admin["nodes"]) == len(graph["nodes"])
    assert admin["revision"] == demo["revision"]


def test_the_api_wants_a_valid_token(lab: dict[str, Any], client: Client) -> None:
    for token in (None, "gAAAAAnot-a-keystone-token"):
        response = get_topology(client, token)
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Keystone uri=")


def test_the_api_refuses_an_unknown_view(lab: dict[str, Any], client: Client, tokens: dict[str, str]) -> None:
    response = get_topology(client, tokens["demo"], view="everything")
    assert response.status_code == 400
    assert "logical, physical, full" in response.json()["detail"]


def test_the_node_agent_posts_its_report_to_the_dashboard(lab: dict[str, Any], live_server: Any) -> None:
    token = services.issue_agent_token(lab["host"])
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "topology.agent",
            "--once",
            "--host",
            lab["host"],
            f"--token={token}",
            "--url",
            f"{live_server.url}/api/v1/agents/report/",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    state = services.graph_state()
    router = lab["routers"]["router1"]["id"]
    assert f"netns:{lab['host']}:qrouter-{router}" in nodes(state.graph)


def test_the_refresh_command_collects_now(lab: dict[str, Any]) -> None:
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("refresh_cloud", stdout=out)
    assert "lab-admin:" in out.getvalue() and f"graph revision {services.current_revision()}" in out.getvalue()
    assert f"router:{lab['routers']['router1']['id']}" in nodes(services.graph_state().graph)
