"""Address families are never mixed (issue 19, part 1), pure, on synthetic allinone-, DVR- and overlap-shaped clouds.

A VM with no IPv6 address asked to an IPv6 one (and an IPv6-only VM to an IPv4 one) is `broken` with
`no_address_family` at the VM, by address and by port id, both directions; a dual-stack VM whose router
has no IPv6 interface on its subnet, or no IPv6 gateway on the external side, is broken at the router;
never the other family's walk (its SNAT rule) as the packet's way. Tenants get the same, redacted.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable

import pytest

from bench.path import add_gateways_and_fips
from bench.synthetic import synthetic_cloud, uid
from tests.diagnosis_clouds import OUTSIDE, PUBLIC, ROUTER, Cloud, JsonDict, dvr, legacy, port
from topology.join import join
from topology.path import Topo, explain
from topology.path.family import aligned, family, prefer
from topology.path.model import Endpoint
from topology.path_scope import Secrets, explain_for_project
from topology.scope import scope_graph

OUTSIDE_V6 = "2001:db8::1"  # the question
V6_SUBNET, V6_PUBLIC = uid("subnet", "v6", 0), uid("subnet", "v6", "public")
V6_CIDR, V6_PUBLIC_CIDR = "2001:db8:10::/64", "2001:db8:ff::/64"
VM0, VM1, VM2 = (uid("vmport", n) for n in range(3))
NO_FAMILY = "no_address_family"


# --------------------------------------------------------------------------- IPv6 made on the clouds


def v6_subnet(cloud: JsonDict, p: int = 0) -> None:
    """An IPv6 subnet (SLAAC) on net-``p``, beside its IPv4 one."""
    cloud["subnets"].append(
        {
            "id": V6_SUBNET,
            "name": "net-0-v6",
            "network_id": uid("net", p),
            "cidr": V6_CIDR,
            "gateway_ip": "2001:db8:10::1",
            "ip_version": 6,
            "ipv6_ra_mode": "slaac",
            "ipv6_address_mode": "slaac",
            "enable_dhcp": True,
            "project_id": uid("project", p).replace("-", ""),
        }
    )
    # Neutron gives the network's DHCP port an address on every DHCP-enabled subnet (SLAAC: its EUI-64 one).
    dhcp = port(cloud, uid("port", "dhcp", p))
    dhcp["fixed_ips"].append({"subnet_id": V6_SUBNET, "ip_address": "2001:db8:10::f816:3eff:fe00:2"})


def v6_address(cloud: JsonDict, port_id: str, n: int, only: bool = False) -> str:
    """The port gets an address of the IPv6 subnet (``only``: instead of its IPv4 one)."""
    address = f"2001:db8:10::{100 + n:x}"
    fixed = [{"subnet_id": V6_SUBNET, "ip_address": address}]
    vm = port(cloud, port_id)
    vm["fixed_ips"] = fixed if only else [*vm["fixed_ips"], *fixed]
    return address


def v6_interface(cloud: JsonDict) -> None:
    """router-0 gets an interface on the IPv6 subnet."""
    qr = copy.deepcopy(port(cloud, uid("port", "qr", 0)))
    qr["id"], qr["mac_address"] = uid("port", "qr", "v6"), "fa:16:3e:00:06:01"
    qr["fixed_ips"] = [{"subnet_id": V6_SUBNET, "ip_address": "2001:db8:10::1"}]
    cloud["ports"].append(qr)


def v6_gateway(cloud: JsonDict) -> None:
    """public gets an IPv6 subnet and router-0 a gateway address on it."""
    cloud["subnets"].append(
        {
            "id": V6_PUBLIC,
            "network_id": PUBLIC,
            "cidr": V6_PUBLIC_CIDR,
            "gateway_ip": "2001:db8:ff::1",
            "ip_version": 6,
            "enable_dhcp": False,
            "project_id": "admin",
        }
    )
    router = next(r for r in cloud["routers"] if r["id"] == ROUTER)
    router["external_gateway_info"]["external_fixed_ips"].append(
        {"subnet_id": V6_PUBLIC, "ip_address": "2001:db8:ff::10"}
    )


def v6_icmp_rule(cloud: JsonDict, port_id: str) -> None:
    """Project 0's default group lets ICMPv6 in from anywhere (the port's project owns the rule)."""
    cloud["security_group_rules"].append(
        {
            "id": uid("rule", "icmp6"),
            "security_group_id": uid("sg", 0),
            "direction": "ingress",
            "ethertype": "IPv6",
            "protocol": "ipv6-icmp",
            "remote_ip_prefix": None,
            "project_id": port(cloud, port_id)["project_id"],
        }
    )


@functools.cache
def _overlap() -> Cloud:
    """Two projects, each with a router, whose subnets are both 10.0.0.0/24: vm-1 (project 1) holds vm-0's address."""
    cloud, reports = synthetic_cloud(hosts=2, ports=4, projects=2, network_nodes=1)
    add_gateways_and_fips(cloud, reports, fip_every=1)
    next(s for s in cloud["subnets"] if s["id"] == uid("subnet", 1)).update(cidr="10.0.0.0/24", gateway_ip="10.0.0.1")
    for p in cloud["ports"]:
        for ip in p["fixed_ips"]:
            if ip["subnet_id"] == uid("subnet", 1):
                ip["ip_address"] = ip["ip_address"].replace("10.0.1.", "10.0.0.")
    port(cloud, VM1)["fixed_ips"][0]["ip_address"] = port(cloud, VM0)["fixed_ips"][0]["ip_address"]
    for fip in cloud["floatingips"]:
        fip["fixed_ip_address"] = port(cloud, fip["port_id"])["fixed_ips"][0]["ip_address"]
    return cloud, reports


def overlap() -> Cloud:
    return copy.deepcopy(_overlap())


SHAPES: dict[str, Callable[[], Cloud]] = {"allinone": legacy, "dvr": dvr, "overlap": overlap}
# The VM whose IPv4 walk out is healthy on each shape (DVR: vm-1, on compute0001 with its fip namespace).
HEALTHY = {"allinone": 0, "dvr": 1, "overlap": 0}


def graph_of(cloud_reports: Cloud) -> JsonDict:
    cloud, reports = cloud_reports
    return join(cloud, reports).to_dict()


def walk(cloud_reports: Cloud, src: str, dst: str, probe: str = "icmp") -> JsonDict:
    return explain(graph_of(cloud_reports), cloud_reports[1], src, dst, probe)


def codes(result: JsonDict) -> list[str]:
    return [p["code"] for p in result["problems"]]


def failed(result: JsonDict) -> list[str]:
    return [h["node"] for h in result["hops"] if h["status"] == "fail"]


def only_family_problem(result: JsonDict) -> str:
    """Broken with no_address_family and nothing else; the message."""
    assert result["verdict"] == "broken", result
    assert codes(result) == [NO_FAMILY], result["problems"]
    assert "return_hops" not in result, "no way back is walked for a packet that never leaves"
    text = repr(result["hops"])
    assert "SNAT" not in text and "DNAT" not in text, "the other family's NAT is not the packet's way"
    return str(result["problems"][0]["message"])


def v6_only_vm2(shape: Callable[[], Cloud]) -> Cloud:
    cloud, reports = shape()
    v6_subnet(cloud)
    v6_address(cloud, VM2, 2, only=True)
    return cloud, reports


# --------------------------------------------------------------------------- no address of the family at the VM


@pytest.mark.parametrize("shape", SHAPES)
def test_a_vm_without_ipv6_asked_to_an_ipv6_address_is_broken_at_the_vm(shape: str) -> None:
    result = walk(SHAPES[shape](), f"port:{VM0}", OUTSIDE_V6)
    assert only_family_problem(result) == "vm-0 has no IPv6 address; its subnets are IPv4 only"
    assert failed(result) == [f"port:{VM0}"]
    assert result["problems"][0]["node"] == f"port:{VM0}"
    assert (result["src"]["ip"], result["dst"]["ip"]) == ("10.0.0.10", OUTSIDE_V6)


@pytest.mark.parametrize("shape", SHAPES)
def test_a_vm_to_an_ipv4_address_is_still_walked(shape: str) -> None:
    result = walk(SHAPES[shape](), f"port:{uid('vmport', HEALTHY[shape])}", OUTSIDE)
    assert result["verdict"] == "ok" and NO_FAMILY not in codes(result), result["problems"]
    assert any("SNAT" in h["evidence"] for h in result["hops"]), "the IPv4 walk is the one it was"


@pytest.mark.parametrize("shape", SHAPES)
def test_an_ipv6_only_vm_asked_to_an_ipv4_address_is_broken_at_the_vm(shape: str) -> None:
    cloud = v6_only_vm2(SHAPES[shape])
    for dst in (OUTSIDE, "10.0.0.10"):
        result = walk(cloud, f"port:{VM2}", dst)
        assert only_family_problem(result) == "vm-2 has no IPv4 address; its subnets are IPv6 only", dst
        assert failed(result) == [f"port:{VM2}"]


@pytest.mark.parametrize("shape", SHAPES)
def test_by_port_id_both_directions_between_an_ipv4_and_an_ipv6_only_vm(shape: str) -> None:
    cloud = v6_only_vm2(SHAPES[shape])
    there = walk(cloud, f"port:{VM0}", f"port:{VM2}")
    assert only_family_problem(there) == "vm-0 has no IPv6 address; its subnets are IPv4 only"
    assert there["dst"]["ip"] == "2001:db8:10::66"
    back = walk(cloud, f"port:{VM2}", f"port:{VM0}")
    assert only_family_problem(back) == "vm-2 has no IPv4 address; its subnets are IPv6 only"
    by_address = walk(cloud, f"port:{VM0}", "2001:db8:10::66")
    assert only_family_problem(by_address) == "vm-0 has no IPv6 address; its subnets are IPv4 only"


def test_from_an_ipv6_outside_host_to_a_vm_without_ipv6_is_broken_at_the_vm() -> None:
    result = walk(legacy(), OUTSIDE_V6, f"port:{VM0}")
    assert only_family_problem(result) == "vm-0 has no IPv6 address; its subnets are IPv4 only"
    assert failed(result) == [f"port:{VM0}"]


def test_from_an_ipv6_outside_host_to_a_floating_ip_mixes_families() -> None:
    cloud = legacy()
    fip = next(f["floating_ip_address"] for f in cloud[0]["floatingips"] if f["port_id"] == VM0)
    result = walk(cloud, OUTSIDE_V6, fip)
    message = only_family_problem(result)
    assert message.startswith(f"{OUTSIDE_V6} is an IPv6 address and {fip} an IPv4 one"), message


# --------------------------------------------------------------------------- what the family needs on the way


@pytest.mark.parametrize("shape", ["allinone", "dvr"])
def test_a_dual_stack_vm_behind_a_router_without_an_ipv6_interface_is_broken_at_the_router(shape: str) -> None:
    cloud, reports = SHAPES[shape]()
    n = HEALTHY[shape]
    vm = uid("vmport", n)
    v6_subnet(cloud)
    address = v6_address(cloud, vm, n)
    result = walk((cloud, reports), f"port:{vm}", OUTSIDE_V6)
    message = only_family_problem(result)
    assert message == (
        f"router router-0 has no IPv6 interface: vm-{n}'s IPv6 subnet net-0-v6 is not attached to it: "
        "`openstack router add subnet router-0 net-0-v6`"
    )
    assert failed(result) == [f"router:{ROUTER}"]
    assert result["src"]["ip"] == address, "a dual-stack VM sends from its address of the destination's family"
    assert walk((cloud, reports), f"port:{vm}", OUTSIDE)["verdict"] == "ok", "IPv4 is untouched"


@pytest.mark.parametrize("shape", ["allinone", "dvr"])
def test_a_router_without_an_ipv6_gateway_is_broken_at_its_external_side(shape: str) -> None:
    cloud, reports = SHAPES[shape]()
    vm = uid("vmport", HEALTHY[shape])
    v6_subnet(cloud)
    v6_address(cloud, vm, HEALTHY[shape])
    v6_interface(cloud)
    result = walk((cloud, reports), f"port:{vm}", OUTSIDE_V6)
    message = only_family_problem(result)
    assert message.startswith("router router-0 has no IPv6 gateway on public: its external side holds 192.168.1.1 only")
    assert failed(result) == [f"router:{ROUTER}"]
    v6_gateway(cloud)
    complete = walk((cloud, reports), f"port:{vm}", OUTSIDE_V6)
    assert NO_FAMILY not in codes(complete), "IPv6 all the way: the families are not what breaks it"


@pytest.mark.parametrize("shape", SHAPES)
def test_a_gateway_whose_addresses_are_unknown_is_not_a_familys_absence(shape: str) -> None:
    """A router whose external_gateway_info names no addresses (a partial record, the synthetic clouds'
    routers) is not "no IPv4 gateway": the families judge what is known, the walk judges the rest."""
    cloud, reports = SHAPES[shape]()
    for router in cloud["routers"]:
        (router.get("external_gateway_info") or {}).pop("external_fixed_ips", None)
    result = walk((cloud, reports), f"port:{uid('vmport', HEALTHY[shape])}", OUTSIDE)
    assert NO_FAMILY not in codes(result), result["problems"]


def test_east_west_needs_the_routers_interface_of_the_family_on_both_subnets() -> None:
    cloud, reports = SHAPES["overlap"]()
    v6_subnet(cloud)  # on net-0; router-0 joins net-1 over IPv4 only: give it an interface there
    qr = copy.deepcopy(port(cloud, uid("port", "qr", 0)))
    qr.update(id=uid("port", "qr", "net1"), network_id=uid("net", 1), mac_address="fa:16:3e:00:01:99")
    qr["fixed_ips"] = [{"subnet_id": uid("subnet", 1), "ip_address": "10.0.0.254"}]
    cloud["ports"].append(qr)
    v6_address(cloud, VM0, 0)
    v6_interface(cloud)
    v6_net1 = {**next(s for s in cloud["subnets"] if s["id"] == V6_SUBNET)}
    v6_net1.update(id=uid("subnet", "v6", 1), name="net-1-v6", network_id=uid("net", 1), cidr="2001:db8:11::/64")
    cloud["subnets"].append(v6_net1)
    port(cloud, VM1)["fixed_ips"].append({"subnet_id": v6_net1["id"], "ip_address": "2001:db8:11::65"})
    result = walk((cloud, reports), f"port:{VM0}", "2001:db8:11::65")
    message = only_family_problem(result)
    assert message.startswith("router router-0 has no IPv6 interface: vm-1's IPv6 subnet net-1-v6"), message
    assert failed(result) == [f"router:{ROUTER}"]


# --------------------------------------------------------------------------- tenants


def ask(cloud_reports: Cloud, project: int, src: str, dst: str) -> JsonDict:
    graph = graph_of(cloud_reports)
    visible = scope_graph(graph, "full", uid("project", project).replace("-", ""))
    secrets = Secrets.of(graph["nodes"], {n["id"] for n in visible["nodes"]})
    return explain_for_project(Topo(graph, cloud_reports[1]), visible, secrets, src, dst)


@pytest.mark.parametrize(("project", "vm", "theirs"), [(0, VM0, VM1), (1, VM1, VM0)])
def test_each_tenant_gets_no_address_family_and_nothing_of_the_other(project: int, vm: str, theirs: str) -> None:
    cloud = overlap()
    result = ask(cloud, project, f"port:{vm}", OUTSIDE_V6)
    assert only_family_problem(result) == f"vm-{project} has no IPv6 address; its subnets are IPv4 only"
    by_address = ask(cloud, project, "10.0.0.10", OUTSIDE_V6)  # both hold it: each one's own
    assert by_address["src"]["node"] == f"port:{vm}" and codes(by_address) == [NO_FAMILY]
    text = repr(result) + repr(by_address)
    other = f"vm-{1 - project}"
    assert theirs not in text and theirs[:11] not in text and other not in text, text


# --------------------------------------------------------------------------- the helpers


def test_family_prefer_and_align() -> None:
    assert (family("10.0.0.1"), family("2001:db8::1/64"), family(None), family("x")) == (4, 6, None, None)
    assert prefer(["10.0.0.5", "2001:db8::5"], [6]) == "2001:db8::5"
    assert prefer(["10.0.0.5"], [6]) == "10.0.0.5", "none of the family: the port's own address is asked"
    cloud, reports = legacy()
    v6_subnet(cloud)
    address = v6_address(cloud, VM0, 0)
    topo = Topo(graph_of((cloud, reports)), reports)
    source = Endpoint("port", f"port:{VM0}", "10.0.0.10")
    assert aligned(topo, source, Endpoint("outside", "", OUTSIDE_V6)).ip == address
    assert aligned(topo, source, Endpoint("outside", "", OUTSIDE)) == source
