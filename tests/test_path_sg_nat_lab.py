"""Security groups as the packet meets them and the hairpin inside the router, against the real lab
(allinone, legacy router1; issue 20 items 6 and 7, and the path panel's names).

Each row is explained, then the packet is really sent from the same namespace (a TCP connect to a
listener inside the destination VM's namespace, or a ping), and the verdict must be the real result.
demo's default group (as Neutron makes it, plus the lab's ICMP and SSH from anywhere) lets in anything
from its members: a hairpin through router1 arrives SNATed (from router1's gateway address, or from
the sender's own floating IP), which is no member, so TCP/8080 is refused; a rule for TCP/8080 lets it
in, and the listener then sees exactly the address the explainer said. The hairpin never leaves by qg-:
qg-'s packet counters do not move while the DNAT rule's do. Everything changed is restored.
"""

from __future__ import annotations

from typing import Any

import openstack.connection
import pytest
from django.test import Client

from tests.broken_states import ping_stops
from tests.conftest import lab_connection
from tests.sg_nat_proof import (
    connects,
    connects_within,
    egress_removed,
    groups_removed,
    ingress_rule,
    link_packets,
    nat_rule_packets,
    tcp_listener,
)
from tests.test_path_broken import pings_again
from tests.test_path_isolation_lab import tenant_ports
from tests.test_path_lab import fresh_graph, server
from tests.test_topology_lab import keystone_token
from topology.api import StoredReports
from topology.path import explain

pytestmark = [pytest.mark.lab, pytest.mark.django_db]
Cloud = openstack.connection.Connection
JsonDict = dict[str, Any]
PORT = 8080


def explained(lab: dict[str, Any], src: str, dst: str, probe: str = "icmp") -> JsonDict:
    return explain(fresh_graph(lab), StoredReports(), src, dst, probe)


def codes(result: JsonDict) -> list[str]:
    return [p["code"] for p in result["problems"]]


def arrives_from(result: JsonDict) -> str:
    hop = next(h for h in result["hops"] if "ingress rules" in h["what"])
    return str(hop["evidence"])


def qg_device(lab: dict[str, Any], graph: JsonDict) -> str:
    prefix = f"iface:{lab['host']}:{lab['routers']['router1']['namespace']}:qg-"
    return str(next(n["label"] for n in graph["nodes"] if n["id"].startswith(prefix)))


# A port per row: a rule deleted in one row's finally may still be applied for a few seconds in the next.
@pytest.mark.parametrize(
    ("sender", "seen", "port"), [("ubuntu-01", "gateway", 8080), ("cirros-01", "floating_ip", 8082)]
)
def test_a_hairpin_is_judged_from_the_address_the_router_snats_it_to(
    lab: dict[str, Any], admin_cloud: Cloud, sender: str, seen: str, port: int
) -> None:
    """ubuntu-01 -> cirros-01's floating IP and cirros-01 -> its own, TCP/8080: refused as explained, then
    let in by a rule, and the listener sees the explained address."""
    cirros = lab["vms"]["cirros-01"]
    fip = cirros["floating_ip"]
    address = lab["routers"]["router1"]["gateway_ip"] if seen == "gateway" else fip
    with tcp_listener("cirros-01", port) as listener:
        result = explained(lab, server(lab, sender), fip, f"tcp:{port}")
        assert (result["verdict"], result["scenario"], codes(result)) == ("broken", "hairpin", ["sg_no_ingress"])
        assert f"from {address}" in result["problems"][0]["message"], result["problems"]
        assert not connects(sender, fip, port), "explained broken: the connect times out"
        assert listener.seen() == []
        group = lab["security_groups"]["demo:default"]
        with ingress_rule(
            admin_cloud,
            group,
            protocol="tcp",
            port_range_min=port,
            port_range_max=port,
            remote_ip_prefix="0.0.0.0/0",
            project_id=admin_cloud.network.get_security_group(group).project_id,
        ):
            allowed = explained(lab, server(lab, sender), fip, f"tcp:{port}")
            assert (allowed["verdict"], allowed["scenario"]) == ("ok", "hairpin"), allowed["problems"]
            assert f"arrives from {address}" in arrives_from(allowed)
            assert connects_within(sender, fip, port), "explained ok: the connect succeeds"
            assert set(listener.seen()) == {address}, "the listener sees the address the explainer said"
    assert cirros["ip"] not in listener.peers


def test_the_icmp_hairpin_never_leaves_by_qg_the_counters_say(lab: dict[str, Any]) -> None:
    graph = fresh_graph(lab)
    router, cirros = lab["routers"]["router1"], lab["vms"]["cirros-01"]
    result = explain(graph, StoredReports(), server(lab, "ubuntu-01"), cirros["floating_ip"])
    assert (result["verdict"], result["scenario"]) == ("ok", "hairpin"), result["problems"]
    assert not any(":qg-" in h["node"] or "br-ex" in h["node"] for h in result["hops"]), "walked inside the router"
    assert api_ping("ubuntu-01", cirros["floating_ip"])  # the first ping of a new path may be lost
    namespace, qg = router["namespace"], qg_device(lab, graph)
    gateway = router["gateway_ip"]
    before = (
        link_packets(namespace, qg),
        nat_rule_packets(namespace, "neutron-l3-agent-PREROUTING", f"to:{cirros['ip']}"),
        nat_rule_packets(namespace, "neutron-l3-agent-snat", "ctstate DNAT", f"to:{gateway}"),
    )
    pings = 5
    for _ in range(pings):
        assert api_ping("ubuntu-01", cirros["floating_ip"], timeout=10)
    after = (
        link_packets(namespace, qg),
        nat_rule_packets(namespace, "neutron-l3-agent-PREROUTING", f"to:{cirros['ip']}"),
        nat_rule_packets(namespace, "neutron-l3-agent-snat", "ctstate DNAT", f"to:{gateway}"),
    )
    assert after[0] == before[0], f"{qg}'s RX/TX packets moved: {before[0]} -> {after[0]}"
    assert after[1] - before[1] >= pings, "the DNAT rule counts each ping (a new ICMP id: a new connection)"
    assert after[2] - before[2] >= pings, "the hairpin SNAT rule counts each ping"


def api_ping(vm: str, target: str, timeout: float = 90) -> bool:
    from lab import api

    return bool(api.ping(vm, target, timeout=timeout))


def test_a_port_without_security_groups_sends_nothing(lab: dict[str, Any], admin_cloud: Cloud) -> None:
    ubuntu = lab["vms"]["ubuntu-01"]
    outside = lab["outside"]["ip"]
    assert explained(lab, server(lab, "ubuntu-01"), outside)["verdict"] == "ok"
    assert api_ping("ubuntu-01", outside)
    try:
        with groups_removed(admin_cloud, ubuntu["port_id"]):
            result = explained(lab, server(lab, "ubuntu-01"), outside)
            assert (result["verdict"], codes(result)) == ("broken", ["sg_no_egress"]), result["problems"]
            assert ubuntu["port_id"] in result["problems"][0]["message"], "the problem names the port"
            assert ping_stops("ubuntu-01", outside), "explained broken: the ping fails"
    finally:
        pings_again("ubuntu-01", outside)


def test_a_group_without_egress_rules_sends_nothing(lab: dict[str, Any], admin_cloud: Cloud) -> None:
    outside = lab["outside"]["ip"]
    assert api_ping("ubuntu-01", outside)
    try:
        with egress_removed(admin_cloud, lab["security_groups"]["demo:default"]):
            result = explained(lab, server(lab, "ubuntu-01"), outside)
            assert (result["verdict"], codes(result)) == ("broken", ["sg_no_egress"]), result["problems"]
            assert "(default): none matches" in result["problems"][0]["message"], "the problem names the group"
            assert ping_stops("ubuntu-01", outside), "explained broken: the ping fails"
    finally:
        pings_again("ubuntu-01", outside)


def test_the_path_api_takes_names_in_the_callers_scope_only(lab: dict[str, Any], client: Client) -> None:
    """demo names its router, its gateway and its network's DHCP port and is answered (then pinged);
    alt naming demo's, and demo naming alt's router and network, get the answer a name nobody uses gets
    (while the name's owner, asking the same from the same source, gets another)."""
    src, outside = server(lab, "ubuntu-01"), lab["outside"]["ip"]
    alt_cloud = lab_connection("lab-alt")
    with tenant_ports(alt_cloud, "names-alt", "10.9.0.0/24", ["10.9.0.5"]):
        router = alt_cloud.network.create_router(name="names-alt-router")
        try:
            graph = fresh_graph(lab)

            def ask(user: str, asker: str, dst: str) -> tuple[int, JsonDict]:
                token = keystone_token(lab, user)
                response = client.get("/api/v1/path/", {"src": asker, "dst": dst}, HTTP_X_AUTH_TOKEN=token)
                return response.status_code, response.json()

            gateway = lab["routers"]["router1"]["gateway_ip"]
            for name, scenario in (
                ("router1", "to-router"),
                ("router1 gateway", "to-router"),
                ("DHCP of private", "to-dhcp"),
            ):
                status, body = ask("demo", src, name)
                assert (status, body.get("verdict"), body.get("scenario")) == (200, "ok", scenario), (name, body)
                address = str(explain(graph, StoredReports(), src, name)["dst"]["ip"])  # unredacted: what to ping
                assert body["dst"]["ip"] in (address, "<hidden>"), body["dst"]  # a gateway port is no project's
                assert api_ping("ubuntu-01", address), f"{name} ({address}): explained ok, so it answers"
            assert explain(graph, StoredReports(), src, "router1 gateway")["dst"]["ip"] == gateway
            rows = [  # (who asks, whose names)
                ("alt", "demo", ("router1", "router1 gateway", "DHCP of private")),
                ("demo", "alt", ("names-alt-router", "names-alt-router gateway", "DHCP of names-alt")),
            ]
            for user, owner, names in rows:
                unknown = ask(user, outside, "nobody-uses-this-name")
                assert unknown[0] == 404, unknown
                for name in names:
                    assert ask(owner, outside, name) != ask(owner, outside, "nobody-uses-this-name"), (owner, name)
                    assert ask(user, outside, name) == unknown, (user, name)
        finally:
            alt_cloud.network.delete_router(router)
