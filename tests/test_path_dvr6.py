"""IPv6 through a distributed router (topology/path/dvr6.py), pure, on the synthetic DVR cloud.

dvr_with_snat() (vm-1 on compute0001, whose qrouter and fip namespaces DVR put there; compute0000 the
SNAT host with sg- and qg- in its snat namespace) made dual stack as the lab's dvr scenario is
(tests/test_path_dvr6_lab.py): a SLAAC subnet on net-0 with its distributed qr- and its own sg- port,
the router's gateway address on public's IPv6 subnet. The VM host's qrouter holds the subnet's policy
rule to sg-; with ``fip_route`` also the main table's IPv6 default via rfp- that a host with a fip
namespace gets, which takes the packet into that namespace instead.
"""

from __future__ import annotations

from bench.synthetic import iface, mac, ovs_iface, uid
from tests.diagnosis_clouds import COMPUTE, FIP_NS, NETWORK_NODE, QROUTER, ROUTER, VM1_PORT, Cloud, JsonDict, namespace
from tests.test_path_family import (
    V6_CIDR,
    V6_PUBLIC_CIDR,
    V6_SUBNET,
    v6_address,
    v6_gateway,
    v6_icmp_rule,
    v6_interface,
    v6_subnet,
)
from tests.test_path_family import walk as family_walk
from tests.test_path_owned import SNAT_NS, dvr_with_snat

OUTSIDE6 = "2001:db8:ff::1"  # public's IPv6 gateway, on its subnet
BEYOND6 = "2001:db8:99::1"
QR6, SG6 = uid("port", "qr", "v6"), uid("port", "sg", "v6")
SG6_IP, TABLE6 = "2001:db8:10::3", 145247553
POLICY6 = {"priority": TABLE6, "from": V6_CIDR, "table": TABLE6, "action": "lookup", "family": 6}
MAIN6 = {"priority": 32766, "from": None, "table": 254, "action": "lookup", "family": 6}


def route6(dst: str, dev: str, gateway: str | None = None, table: int = 254) -> JsonDict:
    return {"dst": dst, "dev": dev, "gateway": gateway, "table": table, "family": 6}


def dvr6(fip_route: bool = True) -> tuple[Cloud, str]:
    cloud, reports = dvr_with_snat()
    v6_subnet(cloud)
    address = v6_address(cloud, VM1_PORT, 1)
    v6_interface(cloud)
    v6_gateway(cloud)
    v6_icmp_rule(cloud, VM1_PORT)
    cloud["ports"].append(
        {
            "id": SG6,
            "network_id": uid("net", 0),
            "device_owner": "network:router_centralized_snat",
            "device_id": ROUTER,
            "project_id": "",
            "status": "ACTIVE",
            "binding:host_id": NETWORK_NODE,
            "mac_address": mac(4_000_006),
            "fixed_ips": [{"subnet_id": V6_SUBNET, "ip_address": SG6_IP}],
        }
    )
    qr6, sg6, r10 = f"qr-{QR6[:11]}", f"sg-{SG6[:11]}", ROUTER[:10]
    host = reports[COMPUTE]
    qrouter = namespace(reports, COMPUTE, QROUTER)
    qrouter["interfaces"].append(iface(qr6, "veth", peer=f"tap{QR6[:11]}", addresses=["2001:db8:10::1/64"], n=61))
    qrouter["rules"] += [MAIN6, POLICY6]
    qrouter["routes"] += [route6(V6_CIDR, qr6), route6("::/0", qr6, SG6_IP, TABLE6)]
    if fip_route:
        qrouter["routes"].append(route6("::/0", f"rfp-{r10}", "fe80::1"))
    config = f"/var/lib/neutron/ra/{ROUTER}.radvd.conf"
    qrouter["processes"] = [{"name": "radvd", "pid": 4343, "argv": ["radvd", "-C", config, "-p", "x.pid"]}]
    fg = next(i["name"] for i in namespace(reports, COMPUTE, FIP_NS)["interfaces"] if i["name"].startswith("fg-"))
    namespace(reports, COMPUTE, FIP_NS)["routes"].append(route6(V6_PUBLIC_CIDR, fg))
    plug(host, QR6, qr6, QROUTER)
    snat = namespace(reports, NETWORK_NODE, SNAT_NS)
    snat["interfaces"].append(iface(sg6, "veth", peer=f"tap{SG6[:11]}", addresses=[f"{SG6_IP}/64"], n=62))
    qg = next(i for i in snat["interfaces"] if i["name"].startswith("qg-"))
    qg["addresses"] = [*qg.get("addresses", []), "2001:db8:ff::10/64"]
    snat["routes"] = [*snat["routes"], route6(V6_CIDR, sg6), route6("::/0", qg["name"], OUTSIDE6)]
    plug(reports[NETWORK_NODE], SG6, sg6, SNAT_NS)
    return (cloud, reports), address


def plug(report: JsonDict, port_id: str, device: str, netns: str) -> None:
    """The port's tap on br-int (net-0's local VLAN 1) and its veth peer in ``netns``."""
    tap = f"tap{port_id[:11]}"
    report["interfaces"].append(iface(tap, "veth", peer=device, peer_netns=netns))
    report["ovs"]["bridges"][0]["ports"].append(
        {"name": tap, "tag": 1, "interfaces": [ovs_iface(tap, external_ids={"iface-id": port_id})]}
    )


def walk(cloud: Cloud, src: str, dst: str, probe: str = "icmp") -> JsonDict:
    return family_walk(cloud, src, dst, probe)


def nodes(hops: list[JsonDict]) -> list[str]:
    return [h["node"] for h in hops]


def codes(result: JsonDict) -> list[str]:
    return [p["code"] for p in result["problems"]]


FIP = f"netns:{COMPUTE}:{FIP_NS}"
SNAT = f"netns:{NETWORK_NODE}:{SNAT_NS}"


def test_a_host_with_a_fip_namespace_sends_ipv6_through_it_and_the_reply_comes_back_through_snat() -> None:
    cloud, _ = dvr6()
    result = walk(cloud, f"port:{VM1_PORT}", OUTSIDE6)
    assert (result["scenario"], result["verdict"], result["return_verdict"]) == (
        "north-south-routed-dvr",
        "ok",
        "ok",
    ), result["problems"]
    assert FIP in nodes(result["hops"]) and SNAT not in nodes(result["hops"])
    lookup = next(h for h in result["hops"] if "its main table's IPv6 default route" in h["what"])
    assert lookup["evidence"] == f"ip -6 route: ::/0 via fe80::1 dev rfp-{ROUTER[:10]}"
    assert SNAT in nodes(result["return_hops"])


def test_beyond_the_external_subnet_the_fip_namespace_has_no_ipv6_route() -> None:
    cloud, _ = dvr6()
    result = walk(cloud, f"port:{VM1_PORT}", BEYOND6)
    assert (result["verdict"], codes(result)) == ("broken", ["no_route"]), result["problems"]
    failed = next(h for h in result["hops"] if h["status"] == "fail")
    assert failed["node"] == FIP
    assert nodes(result["hops"])[-1] == FIP, "nothing walked past the namespace that drops it"


def test_a_host_without_that_route_sends_ipv6_by_policy_through_the_snat_namespace_even_beyond() -> None:
    cloud, _ = dvr6(fip_route=False)
    result = walk(cloud, f"port:{VM1_PORT}", BEYOND6)
    assert (result["scenario"], result["verdict"]) == ("north-south-routed-dvr", "ok"), result["problems"]
    assert SNAT in nodes(result["hops"]) and FIP not in nodes(result["hops"])
    policy = next(h for h in result["hops"] if "by policy to the SNAT port" in h["what"])
    assert SG6_IP in policy["what"]
    assert policy["evidence"].startswith(f"ip -6 rule: {TABLE6}: from {V6_CIDR} lookup {TABLE6}; ")
    routed = next(h for h in result["hops"] if h["node"] == SNAT and "default gateway" in h["what"])
    assert routed["evidence"].startswith(f"ip -6 route: ::/0 via {OUTSIDE6} dev qg-")
    assert not any("SNATs" in h["what"] for h in result["hops"]), "IPv6 is never NATed"
    assert result["hops"][-1]["what"].startswith(f"reaches external network public's gateway {OUTSIDE6}, "), (
        "the IPv6 subnet's gateway routes it on, never the IPv4 one"
    )


def test_without_the_policy_rule_nor_a_default_the_qrouter_has_no_ipv6_route() -> None:
    (cloud, reports), _ = dvr6(fip_route=False)
    namespace(reports, COMPUTE, QROUTER)["rules"].remove(POLICY6)
    result = walk((cloud, reports), f"port:{VM1_PORT}", OUTSIDE6)
    assert (result["verdict"], codes(result)) == ("broken", ["no_route"]), result["problems"]
    assert next(h for h in result["hops"] if h["status"] == "fail")["node"] == f"netns:{COMPUTE}:{QROUTER}"


def test_in_from_the_outside_through_the_snat_namespaces_sg_to_the_vm() -> None:
    cloud, address = dvr6()
    result = walk(cloud, OUTSIDE6, address)
    assert (result["scenario"], result["verdict"]) == ("inbound-routed-dvr", "ok"), result["problems"]
    routed = next(h for h in result["hops"] if h["node"] == SNAT and "routes" in h["what"])
    assert routed["evidence"] == f"ip -6 route: {V6_CIDR} dev sg-{SG6[:11]}"
    assert result["hops"][-1]["what"].endswith(f"receives it on {address}")
    assert f"netns:{COMPUTE}:{QROUTER}" in nodes(result["return_hops"]), "the reply leaves on the VM's host"


def test_without_the_snat_namespaces_route_to_the_prefix_the_walk_stops_there() -> None:
    (cloud, reports), address = dvr6()
    snat = namespace(reports, NETWORK_NODE, SNAT_NS)
    snat["routes"] = [r for r in snat["routes"] if r.get("dst") != V6_CIDR]
    result = walk((cloud, reports), OUTSIDE6, address)
    assert (result["verdict"], codes(result)) == ("broken", ["no_route"]), result["problems"]
    assert "no sg- holds an address" in result["problems"][0]["message"]
