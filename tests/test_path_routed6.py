"""IPv6 through a legacy router (issue 19 part 4), pure, on the synthetic legacy cloud made dual stack.

The shape of the dualstack lab (tests/test_path_dualstack_lab.py proves it with ping6): vm-0 holds an
address of an IPv6 subnet that router-0 has an interface on, router-0's gateway an address of public's
IPv6 subnet, and its qrouter namespace the routes the L3 agent sets (the IPv6 default via the external
subnet's gateway, the tenant prefix on the qr-). IPv6 is routed, never NATed; security groups judge it
by their IPv6 rules; each missing piece is broken where it is missing.
"""

from __future__ import annotations

from bench.synthetic import iface, ovs_iface, uid
from tests.diagnosis_clouds import NETWORK_NODE, QROUTER, ROUTER, Cloud, JsonDict, legacy, namespace, port
from tests.test_path_family import (
    V6_CIDR,
    VM0,
    v6_address,
    v6_gateway,
    v6_icmp_rule,
    v6_interface,
    v6_subnet,
    walk,
)

OUTSIDE6 = "2001:db8:ff::1"  # public's IPv6 gateway: the upstream router
QR6 = uid("port", "qr", "v6")


def dual_stack() -> tuple[Cloud, str]:
    """The legacy cloud with vm-0 dual stack behind router-0, and the data plane the L3 agent makes."""
    cloud, reports = legacy()
    v6_subnet(cloud)
    address = v6_address(cloud, VM0, 0)
    v6_interface(cloud)
    v6_gateway(cloud)
    v6_icmp_rule(cloud, VM0)
    qrouter = namespace(reports, NETWORK_NODE, QROUTER)
    qrouter["interfaces"].append(
        iface(f"qr-{QR6[:11]}", "veth", peer=f"tap{QR6[:11]}", addresses=["2001:db8:10::1/64"], n=6006)
    )
    qg = next(i["name"] for i in qrouter["interfaces"] if i["name"].startswith("qg-"))
    qrouter["interfaces"][[i["name"] for i in qrouter["interfaces"]].index(qg)]["addresses"].append(
        "2001:db8:ff::10/64"
    )
    config = f"/var/lib/neutron/ra/{ROUTER}.radvd.conf"
    qrouter["processes"] = [{"name": "radvd", "pid": 4242, "argv": ["radvd", "-C", config, "-p", "x.pid"]}]
    qrouter["routes"] += [
        {"dst": "::/0", "gateway": OUTSIDE6, "dev": qg, "family": 6},
        {"dst": V6_CIDR, "gateway": None, "dev": f"qr-{QR6[:11]}", "family": 6},
    ]
    report = reports[NETWORK_NODE]
    report["interfaces"].append(iface(f"tap{QR6[:11]}", "veth", peer=f"qr-{QR6[:11]}", peer_netns=QROUTER))
    br_int = report["ovs"]["bridges"][0]
    tag = next(p["tag"] for p in br_int["ports"] if p["name"] == f"tap{uid('port', 'qr', 0)[:11]}")
    br_int["ports"].append(
        {
            "name": f"tap{QR6[:11]}",
            "tag": tag,
            "interfaces": [ovs_iface(f"tap{QR6[:11]}", external_ids={"iface-id": QR6})],
        }
    )
    return (cloud, reports), address


def failing(result: JsonDict) -> list[str]:
    return [p["code"] for p in result["problems"] if p["severity"] == "fail"]


def no_nat(result: JsonDict) -> None:
    text = repr(result["hops"])
    assert "SNAT" not in text.replace("without NAT", "") and "DNAT" not in text, "IPv6 is never NATed"


def qrouter_hop(result: JsonDict, what: str = "routes") -> JsonDict:
    (hop,) = [h for h in result["hops"] if h["node"] == f"netns:{NETWORK_NODE}:{QROUTER}" and what in h["what"]]
    return hop


def test_out_by_its_own_address_through_the_ipv6_default_route() -> None:
    cloud, address = dual_stack()
    result = walk(cloud, f"port:{VM0}", OUTSIDE6)
    assert (result["scenario"], result["verdict"]) == ("north-south-routed", "ok"), result["problems"]
    assert result["src"]["ip"] == address
    assert result["hops"][0]["what"].endswith(f"from {address}")
    no_nat(result)
    assert qrouter_hop(result)["evidence"].startswith(f"ip -6 route: ::/0 via {OUTSIDE6} dev qg-")
    assert any(h["node"].endswith(f"qr-{QR6[:11]}") for h in result["hops"]), "in on the IPv6 subnet's qr-"
    advertised = qrouter_hop(result, "advertises")
    assert advertised["evidence"] == f"radvd (pid 4242) with /var/lib/neutron/ra/{ROUTER}.radvd.conf: slaac, slaac"


def test_without_radvd_in_the_qrouter_the_vms_hear_no_advertisement() -> None:
    (cloud, reports), _ = dual_stack()
    namespace(reports, NETWORK_NODE, QROUTER)["processes"] = []
    result = walk((cloud, reports), f"port:{VM0}", OUTSIDE6)
    assert (result["verdict"], failing(result)) == ("broken", ["no_router_advertisement"]), result["problems"]
    assert qrouter_hop(result, "advertises")["status"] == "fail"
    assert "no IPv6 default route and no SLAAC address" in result["problems"][0]["message"]


def test_a_slaac_subnet_without_ra_mode_is_broken_at_the_router_that_may_not_serve_it() -> None:
    (cloud, reports), _ = dual_stack()
    next(s for s in cloud["subnets"] if s["cidr"] == V6_CIDR)["ipv6_ra_mode"] = None
    cloud["ports"] = [p for p in cloud["ports"] if p["id"] != QR6]  # Neutron refuses the interface
    result = walk((cloud, reports), f"port:{VM0}", OUTSIDE6)
    assert (result["verdict"], failing(result)) == ("broken", ["ipv6_ra_mode_unset"]), result["problems"]
    message = result["problems"][0]["message"]
    assert "ipv6_address_mode slaac and no ipv6_ra_mode" in message and "--ipv6-ra-mode slaac" in message
    assert result["problems"][0]["node"] == f"router:{ROUTER}"
    assert "SNAT" not in repr(result["hops"])


def test_without_the_ipv6_default_route_the_qrouter_hop_fails() -> None:
    (cloud, reports), _ = dual_stack()
    qrouter = namespace(reports, NETWORK_NODE, QROUTER)
    qrouter["routes"] = [r for r in qrouter["routes"] if r["dst"] != "::/0"]
    result = walk((cloud, reports), f"port:{VM0}", OUTSIDE6)
    assert (result["verdict"], failing(result)) == ("broken", ["router_no_gateway"]), result["problems"]
    assert qrouter_hop(result)["status"] == "fail"
    assert "no IPv6 default route" in result["problems"][0]["message"]


def test_in_from_the_outside_to_the_vms_own_address_routed_to_its_prefix() -> None:
    cloud, address = dual_stack()
    result = walk(cloud, OUTSIDE6, address)
    assert (result["scenario"], result["verdict"]) == ("inbound-routed", "ok"), result["problems"]
    no_nat(result)
    assert qrouter_hop(result)["evidence"] == f"ip -6 route: {V6_CIDR} dev qr-{QR6[:11]}"
    assert any("2001:db8:ff::10" in h["what"] for h in result["hops"]), "the upstream sends it to the gateway"
    ingress = next(h for h in result["hops"] if "ingress rules" in h["what"])
    assert "ingress ipv6-icmp from any" in ingress["evidence"]
    assert result["hops"][-1]["what"].endswith(f"receives it on {address}")


def test_an_ipv4_icmp_rule_does_not_let_icmpv6_in() -> None:
    (cloud, reports), address = dual_stack()
    rules = cloud["security_group_rules"]
    (icmp6,) = [r for r in rules if r["id"] == uid("rule", "icmp6")]
    icmp6.update(ethertype="IPv4", protocol="icmp")
    result = walk((cloud, reports), OUTSIDE6, address)
    assert (result["verdict"], failing(result)) == ("broken", ["sg_no_ingress"]), result["problems"]
    assert "--ethertype IPv6 --protocol ipv6-icmp" in result["problems"][0]["message"]
    assert f"--remote-ip {OUTSIDE6}/128" in result["problems"][0]["message"]


def test_tcp_in_needs_an_ipv6_rule_of_its_port() -> None:
    cloud, address = dual_stack()
    result = walk(cloud, OUTSIDE6, address, "ssh")
    assert (result["verdict"], failing(result)) == ("broken", ["sg_no_ingress"]), result["problems"]
    assert "--ethertype IPv6 --protocol tcp --dst-port 22" in result["problems"][0]["message"]


def test_without_a_route_to_the_prefix_the_qrouter_hop_fails() -> None:
    (cloud, reports), address = dual_stack()
    qrouter = namespace(reports, NETWORK_NODE, QROUTER)
    qrouter["routes"] = [r for r in qrouter["routes"] if r["dst"] != V6_CIDR]
    result = walk((cloud, reports), OUTSIDE6, address)
    assert (result["verdict"], failing(result)) == ("broken", ["no_route"]), result["problems"]
    assert f"no IPv6 route to {address}" in result["problems"][0]["message"]


def test_the_ipv4_walk_of_the_same_vm_is_the_one_it_was() -> None:
    cloud, _ = dual_stack()
    result = walk(cloud, f"port:{VM0}", "192.168.0.1")
    assert (result["scenario"], result["verdict"]) == ("north-south-fip", "ok"), result["problems"]
    assert result["src"]["ip"] == port(cloud[0], VM0)["fixed_ips"][0]["ip_address"]
    assert any("SNAT" in h["what"] for h in result["hops"])
