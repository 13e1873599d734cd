"""Issue 19 on the real lab (scenario dualstack): IPv6 explained right and proven by real ping6.

router1 routes demo's `private` in both families: IPv4 with SNAT and a floating IP, IPv6 without NAT
(SLAAC addresses from radvd in its qrouter namespace, a static IPv6 gateway on `public`, the outside
host routing the tenant prefix to router1's IPv6 gateway address). Every IPv6 walk is explained and
then really taken with ping6 (and a TCP connection each way); each broken state is made for real
through Neutron, agrees with ping6, names its hop, and is undone. All dualstack rows are in this one
file so that the scenario is built once per run.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from tests.broken_states import ping_stops, rules_removed
from tests.conftest import lab_connection
from tests.leak_check import Cloud, leaks
from tests.sg_nat_proof import connects_within, tcp_listener
from tests.test_path_broken import pings_again
from tests.test_path_isolation_lab import ask, state_secrets
from tests.test_topology_dvr import joined
from tests.test_topology_lab import keystone_token
from topology.api import StoredReports
from topology.path import explain

pytestmark = [pytest.mark.lab, pytest.mark.django_db]
JsonDict = dict[str, Any]
OUTSIDE6 = "2001:db8:1::1"
PRIVATE6 = "2001:db8:10::/64"


def port(state: JsonDict, vm: str) -> str:
    return f"port:{state['vms'][vm]['port_id']}"


def walk(state: JsonDict, src: str, dst: str, probe: str = "icmp") -> JsonDict:
    return explain(joined(state), StoredReports(), src, dst, probe)


def codes(result: JsonDict) -> list[str]:
    return [p["code"] for p in result["problems"] if p["severity"] == "fail"]


def ok(result: JsonDict, scenario: str) -> JsonDict:
    assert (result["scenario"], result["verdict"]) == (scenario, "ok"), result["problems"]
    assert all("SNAT" not in h["what"] + h["evidence"] for h in result["hops"]), "IPv6 is never NATed"
    assert all("DNAT" not in h["what"] + h["evidence"] for h in result["hops"]), "IPv6 is never NATed"
    return result


def ping6(source: str, target: str, timeout: float = 60) -> bool:
    from lab import api

    return bool(api.ping(source, target, timeout=timeout))


def ping6_fails(source: str, target: str) -> bool:
    return ping_stops(source, target, timeout=90)


def router_hop(result: JsonDict, state: JsonDict) -> JsonDict:
    qrouter = f"netns:controller:{state['routers']['router1']['namespace']}"
    (hop,) = [h for h in result["hops"] if h["node"] == qrouter and "routes" in h["what"]]
    return hop


# --------------------------------------------------------------------------- the build


def test_router1_advertises_the_prefix_and_the_vms_took_neutrons_addresses(
    dualstack_lab: JsonDict, admin_cloud: Cloud
) -> None:
    from lab import api

    router = dualstack_lab["routers"]["router1"]
    radvd = api.run_on("controller", ["pgrep", "-a", "radvd"], capture=True).stdout
    assert any(router["id"] in line for line in radvd.splitlines()), radvd
    graph = joined(dualstack_lab)
    qrouter = next(n for n in graph["nodes"] if n["id"] == f"netns:controller:{router['namespace']}")
    assert qrouter["attrs"].get("radvd"), qrouter["attrs"]
    for name, vm in dualstack_lab["vms"].items():
        fixed = [ip["ip_address"] for ip in admin_cloud.network.get_port(vm["port_id"]).fixed_ips]
        assert vm["ipv6"] in fixed and vm["ip"] in fixed, fixed
        shown = api.run_in(name, ["ip", "-6", "-o", "addr", "show", "dev", "eth0", "scope", "global"]).stdout
        assert f" {vm['ipv6']}/64 " in shown, shown
        routes = api.run_in(name, ["ip", "-6", "route", "show", "default"]).stdout
        assert "proto ra" in routes, routes  # the default route comes from router1's advertisements


# --------------------------------------------------------------------------- walks, then real packets


def test_a_vm_leaves_by_its_own_ipv6_address_routed_without_nat(dualstack_lab: JsonDict) -> None:
    ubuntu = dualstack_lab["vms"]["ubuntu-01"]
    result = ok(walk(dualstack_lab, port(dualstack_lab, "ubuntu-01"), OUTSIDE6), "north-south-routed")
    assert result["src"]["ip"] == ubuntu["ipv6"]
    hop = router_hop(result, dualstack_lab)
    assert hop["evidence"] == f"ip -6 route: ::/0 via {OUTSIDE6} dev " + hop["evidence"].split(" dev ")[1]
    (advertised,) = [h for h in result["hops"] if "advertises private6_subnet" in h["what"]]
    router = dualstack_lab["routers"]["router1"]["id"]
    assert (
        advertised["evidence"].startswith("radvd (pid ")
        and f"{router}.radvd.conf: slaac, slaac" in (advertised["evidence"])
    ), advertised
    assert result["hops"][-1]["what"] == f"reaches {OUTSIDE6} on external network public"
    assert ping6("ubuntu-01", OUTSIDE6)
    # The outside sees the VM's own address: nothing translated it on the way.
    with tcp_listener("outside", 8022, "::") as listener:
        assert connects_within("ubuntu-01", OUTSIDE6, 8022)
        assert ubuntu["ipv6"] in listener.seen(), listener.peers


def test_the_outside_reaches_a_vms_own_ipv6_address_its_group_allowing_icmpv6_and_ssh(
    dualstack_lab: JsonDict,
) -> None:
    cirros = dualstack_lab["vms"]["cirros-01"]
    result = ok(walk(dualstack_lab, OUTSIDE6, cirros["ipv6"]), "inbound-routed")
    hop = router_hop(result, dualstack_lab)
    assert hop["evidence"].startswith(f"ip -6 route: {PRIVATE6} dev qr-"), hop
    gateway6 = dualstack_lab["routers"]["router1"]["gateway_ipv6"]
    assert any(gateway6 in h["what"] and "qg-" in h["what"] for h in result["hops"]), result["hops"]
    assert (
        "ingress ipv6-icmp"
        in next(h for h in result["hops"] if "qbr" in h["node"] and "ingress" in h["what"])["evidence"]
    )
    assert result["hops"][-1]["what"] == f"cirros-01 receives it on {cirros['ipv6']}"
    assert ping6("outside", cirros["ipv6"])
    ssh = ok(walk(dualstack_lab, OUTSIDE6, cirros["ipv6"], "ssh"), "inbound-routed")
    assert any("ingress tcp port 22" in h["evidence"] for h in ssh["hops"]), ssh["hops"]
    with tcp_listener("cirros-01", 22, "::") as listener:
        assert connects_within("outside", cirros["ipv6"], 22)
        assert OUTSIDE6 in listener.seen(), listener.peers
    # No rule opens TCP/8080 over IPv6 from the outside: the walk says so and the connection agrees.
    closed = walk(dualstack_lab, OUTSIDE6, cirros["ipv6"], "tcp:8080")
    assert (closed["verdict"], codes(closed)) == ("broken", ["sg_no_ingress"]), closed["problems"]
    assert "--ethertype IPv6 --protocol tcp" in closed["problems"][0]["message"]
    with tcp_listener("cirros-01", 8080, "::"):
        assert not connects_within("outside", cirros["ipv6"], 8080, wait=8)


def test_two_vms_of_the_network_reach_each_other_over_ipv6_switched(dualstack_lab: JsonDict) -> None:
    cirros = dualstack_lab["vms"]["cirros-01"]
    result = ok(walk(dualstack_lab, port(dualstack_lab, "ubuntu-01"), cirros["ipv6"]), "same-network")
    ingress = next(h for h in result["hops"] if "qbr" in h["node"] and "ingress" in h["what"])
    assert "members of group default" in ingress["evidence"], ingress
    assert ping6("ubuntu-01", cirros["ipv6"])


def test_east_west_over_ipv6_enters_and_leaves_router1_on_the_ipv6_subnets_qr_ports(dualstack_lab: JsonDict) -> None:
    web = dualstack_lab["vms"]["web-01"]
    result = ok(walk(dualstack_lab, port(dualstack_lab, "ubuntu-01"), web["ipv6"]), "east-west")
    assert result["src"]["ip"] == dualstack_lab["vms"]["ubuntu-01"]["ipv6"]
    router_ports = [
        h["evidence"] for h in result["hops"] if h["what"].startswith(("qr- of router", "leaves on the qr-"))
    ]
    assert len(router_ports) == 2 and "2001:db8:10::" in router_ports[0] and "2001:db8:12::" in router_ports[1], (
        router_ports
    )
    assert result["hops"][-1]["what"] == f"web-01 receives it on {web['ipv6']}"
    assert ping6("ubuntu-01", web["ipv6"])
    back = ok(
        walk(dualstack_lab, port(dualstack_lab, "web-01"), dualstack_lab["vms"]["ubuntu-01"]["ipv6"]), "east-west"
    )
    assert back["src"]["ip"] == web["ipv6"]
    assert ping6("web-01", dualstack_lab["vms"]["ubuntu-01"]["ipv6"])


def test_a_question_mixing_families_is_broken_on_the_dual_stack_cloud_too(dualstack_lab: JsonDict) -> None:
    fip = dualstack_lab["vms"]["cirros-01"]["floating_ip"]
    result = walk(dualstack_lab, OUTSIDE6, fip)
    assert (result["verdict"], codes(result)) == ("broken", ["no_address_family"]), result["problems"]
    assert "never reaches the other" in result["problems"][0]["message"]
    # a dual-stack VM asked of an IPv4 address sends from its IPv4 one, through SNAT: both are right
    v4 = walk(dualstack_lab, port(dualstack_lab, "ubuntu-01"), "192.168.1.1")
    assert (v4["scenario"], v4["verdict"], v4["src"]["ip"]) == (
        "north-south-snat",
        "ok",
        dualstack_lab["vms"]["ubuntu-01"]["ip"],
    )


# --------------------------------------------------------------------------- broken for real, undone


def test_without_an_icmpv6_rule_ping6_from_outside_fails_and_the_walk_names_the_group(
    dualstack_lab: JsonDict, admin_cloud: Cloud
) -> None:
    cirros = dualstack_lab["vms"]["cirros-01"]
    group = dualstack_lab["security_groups"]["demo:default"]
    with rules_removed(
        admin_cloud,
        group,
        lambda r: r.direction == "ingress" and r.ether_type == "IPv6" and r.protocol == "ipv6-icmp",
        "the lab opens ICMPv6 in demo's default group",
    ):
        result = walk(dualstack_lab, OUTSIDE6, cirros["ipv6"])
        assert (result["verdict"], codes(result)) == ("broken", ["sg_no_ingress"]), result["problems"]
        assert "--ethertype IPv6 --protocol ipv6-icmp" in result["problems"][0]["message"]
        assert ping6_fails("outside", cirros["ipv6"])
        # Neutron's firewall lets neighbour discovery in without a rule: only the echo is dropped,
        # and the VM's own network still pings it (its group's members are let in).
        assert ping6("ubuntu-01", cirros["ipv6"])
    ok(walk(dualstack_lab, OUTSIDE6, cirros["ipv6"]), "inbound-routed")
    pings_again("outside", cirros["ipv6"])


@contextlib.contextmanager
def ipv6_interface_removed(cloud: Cloud, state: JsonDict) -> Iterator[None]:
    router, subnet = state["routers"]["router1"]["id"], state["subnets"]["private6_subnet"]
    cloud.network.remove_interface_from_router(router, subnet=subnet)
    try:
        yield
    finally:
        cloud.network.add_interface_to_router(router, subnet=subnet)


def test_router1s_ipv6_interface_removed_the_vm_loses_its_way_out_and_the_walk_says_where(
    dualstack_lab: JsonDict, admin_cloud: Cloud
) -> None:
    ubuntu = port(dualstack_lab, "ubuntu-01")
    with ipv6_interface_removed(admin_cloud, dualstack_lab):
        result = walk(dualstack_lab, ubuntu, OUTSIDE6)
        assert (result["verdict"], codes(result)) == ("broken", ["no_address_family"]), result["problems"]
        message = result["problems"][0]["message"]
        assert "router router1 has no IPv6 interface" in message and "private6_subnet" in message, message
        assert result["problems"][0]["node"].startswith("router:")
        assert ping6_fails("ubuntu-01", OUTSIDE6)
        # The prefix's qr- left router1's namespace and radvd no longer advertises it (private2's it
        # still does). The VM keeps its default route to router1's link-local address until the advertised
        # lifetime runs out: no one answers there.
        from lab import api

        router = dualstack_lab["routers"]["router1"]
        assert PRIVATE6 not in api.run_in(f"controller:{router['namespace']}", ["ip", "-6", "route"]).stdout
        radvd = api.run_on("controller", ["pgrep", "-a", "radvd"], capture=True).stdout
        config = next(a for a in radvd.split() if a.endswith(f"{router['id']}.radvd.conf"))
        advertised = api.run_on("controller", ["cat", config], capture=True).stdout
        assert PRIVATE6 not in advertised and "2001:db8:12::/64" in advertised, advertised
    pings_again("ubuntu-01", OUTSIDE6)
    ok(walk(dualstack_lab, ubuntu, OUTSIDE6), "north-south-routed")


@contextlib.contextmanager
def ipv6_gateway_removed(cloud: Cloud, state: JsonDict) -> Iterator[None]:
    """router1's gateway keeps only its IPv4 address on `public` (admin: external_fixed_ips)."""
    from lab.scenarios import dualstack

    router = state["routers"]["router1"]
    public, v4 = state["networks"]["public"], state["subnets"]["public_subnet"]
    cloud.network.update_router(
        router["id"], external_gateway_info={"network_id": public, "external_fixed_ips": [{"subnet_id": v4}]}
    )
    try:
        yield
    finally:
        both = [{"subnet_id": v4}, {"subnet_id": state["subnets"]["public6_subnet"]}]
        updated = cloud.network.update_router(
            router["id"], external_gateway_info={"network_id": public, "external_fixed_ips": both}
        )
        gateway6 = next(
            ip["ip_address"] for ip in updated.external_gateway_info["external_fixed_ips"] if ":" in ip["ip_address"]
        )
        dualstack.route_outside_to_tenants(gateway6)  # the upstream's route follows the new address
        state["routers"]["router1"]["gateway_ipv6"] = gateway6


def test_without_an_ipv6_gateway_on_public_the_walk_stops_at_router1(
    dualstack_lab: JsonDict, admin_cloud: Cloud
) -> None:
    ubuntu = port(dualstack_lab, "ubuntu-01")
    with ipv6_gateway_removed(admin_cloud, dualstack_lab):
        result = walk(dualstack_lab, ubuntu, OUTSIDE6)
        assert (result["verdict"], codes(result)) == ("broken", ["no_address_family"]), result["problems"]
        assert "router router1 has no IPv6 gateway on public" in result["problems"][0]["message"]
        assert ping6_fails("ubuntu-01", OUTSIDE6)
        # IPv4 still leaves through SNAT
        assert walk(dualstack_lab, ubuntu, "192.168.1.1")["verdict"] == "ok"
    pings_again("ubuntu-01", OUTSIDE6)
    ok(walk(dualstack_lab, ubuntu, OUTSIDE6), "north-south-routed")


@contextlib.contextmanager
def slaac_without_ra_mode(state: JsonDict) -> Iterator[str]:
    """demo's `private3` on router1 by its IPv4 subnet, with an IPv6 subnet of ipv6_address_mode slaac and no
    ipv6_ra_mode (Neutron refuses to change a subnet's modes, so a network of its own), which Neutron refuses
    to attach to router1; a port on it (not plugged: with DHCP on that subnet the DHCP agent never
    provisioned a VM's port here, twice 150 s, and Neutron refuses the subnet without DHCP); its id."""
    from lab import keystone, neutron, rest

    admin, demo = neutron.client(keystone.ADMIN), neutron.client(keystone.DEMO)
    router = state["routers"]["router1"]["id"]
    net = demo.post("/v2.0/networks", {"network": {"name": "private3"}})["network"]
    subnets = [
        demo.post("/v2.0/subnets", {"subnet": {"network_id": net["id"], **body}})["subnet"]
        for body in (
            {"name": "private3_subnet", "ip_version": 4, "cidr": "10.0.3.0/24"},
            {"name": "private3_v6_subnet", "ip_version": 6, "cidr": "2001:db8:13::/64", "ipv6_address_mode": "slaac"},
        )
    ]
    try:
        demo.put(f"/v2.0/routers/{router}/add_router_interface", {"subnet_id": subnets[0]["id"]})
        with pytest.raises(rest.HttpError, match="receive RAs from an external router"):
            demo.put(f"/v2.0/routers/{router}/add_router_interface", {"subnet_id": subnets[1]["id"]})
        port = demo.post("/v2.0/ports", {"port": {"network_id": net["id"], "name": "v6-01"}})["port"]
        assert any(":" in ip["ip_address"] for ip in port["fixed_ips"]), port["fixed_ips"]
        yield str(port["id"])
    finally:
        with contextlib.suppress(rest.HttpError):
            demo.put(f"/v2.0/routers/{router}/remove_router_interface", {"subnet_id": subnets[0]["id"]})
        for port in admin.get(f"/v2.0/ports?network_id={net['id']}")["ports"]:
            with contextlib.suppress(rest.HttpError):
                admin.delete(f"/v2.0/ports/{port['id']}")
        demo.delete(f"/v2.0/networks/{net['id']}")


def test_a_slaac_subnet_without_ra_mode_is_broken_at_router1_which_neutron_will_not_attach_it_to(
    dualstack_lab: JsonDict,
) -> None:
    with slaac_without_ra_mode(dualstack_lab) as port_id:
        result = walk(dualstack_lab, f"port:{port_id}", OUTSIDE6)
        assert (result["verdict"], codes(result)) == ("broken", ["ipv6_ra_mode_unset"]), result["problems"]
        message = result["problems"][0]["message"]
        assert "private3_v6_subnet" in message and "router outside OpenStack" in message, message
        assert result["problems"][0]["node"] == f"router:{dualstack_lab['routers']['router1']['id']}"
        assert "SNAT" not in repr(result["hops"])


# --------------------------------------------------------------------------- tenants


def test_alt_learns_nothing_of_demos_ipv6_addresses_and_demo_nothing_of_alts(
    dualstack_lab: JsonDict, admin_cloud: Cloud, client: Client
) -> None:
    cirros = dualstack_lab["vms"]["cirros-01"]
    demo, alt = keystone_token(dualstack_lab, "demo"), keystone_token(dualstack_lab, "alt")
    joined(dualstack_lab)
    status, body = ask(client, demo, OUTSIDE6, cirros["ipv6"])
    assert status == 200 and json.loads(body)["verdict"] == "ok", body
    alt_cloud = lab_connection("lab-alt")
    network = alt_cloud.network.create_network(name="leak6-alt")
    try:
        subnet = alt_cloud.network.create_subnet(
            network_id=network.id, cidr="2001:db8:20::/64", ip_version=6, name="leak6-alt-subnet", enable_dhcp=False
        )
        own = alt_cloud.network.create_port(network_id=network.id, name="leak6-alt-port")
        own_ip = next(ip["ip_address"] for ip in own.fixed_ips if ip["subnet_id"] == subnet.id)
        joined(dualstack_lab)
        secrets = state_secrets(dualstack_lab, admin_cloud, "demo", "alt")
        assert cirros["ipv6"] in secrets
        for src, dst in (
            (OUTSIDE6, cirros["ipv6"]),
            (port(dualstack_lab, "cirros-01"), OUTSIDE6),
            (own_ip, cirros["ipv6"]),
        ):
            status, body = ask(client, alt, src, dst)
            assert status in (200, 404) and leaks(body, secrets) == [], (src, dst, body)
            if status == 200:
                assert json.loads(body)["verdict"] != "ok", body
        demo_secrets = state_secrets(dualstack_lab, admin_cloud, "alt", "demo")
        assert own_ip in demo_secrets
        for src, dst in ((OUTSIDE6, own_ip), (port(dualstack_lab, "cirros-01"), own_ip)):
            status, body = ask(client, demo, src, dst)
            assert status in (200, 404) and leaks(body, demo_secrets) == [], (src, dst, body)
    finally:
        for p in alt_cloud.network.ports(network_id=network.id):
            alt_cloud.network.delete_port(p)
        alt_cloud.network.delete_network(network)
