"""DNS (seed 000's last check) on the diagnosis clouds (pure): the destination "dns" is the VM's
resolver as DHCP hands it out, walked as UDP/53; dnsmasq's upstream is read from its command line
(the node agent's ``namespaces[].processes``)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.diagnosis_clouds import NET0, NETWORK_NODE, Cloud, legacy, namespace, walk
from topology.path import PathError
from topology.path.dns import upstreams

JsonDict = dict[str, Any]
QDHCP = f"qdhcp-{NET0}"
DHCP_IP = "10.0.0.2"  # net-0's DHCP port


def dnsmasq(*options: str) -> JsonDict:
    return {"pid": 77, "name": "dnsmasq", "argv": ["dnsmasq", "--no-hosts", *options, "--domain=openstacklocal"]}


def with_dnsmasq(cloud_reports: Cloud, *options: str) -> Cloud:
    cloud, reports = cloud_reports
    namespace(reports, NETWORK_NODE, QDHCP)["processes"] = [dnsmasq(*options)] if options != ("none",) else []
    return cloud, reports


def with_nameservers(cloud_reports: Cloud, *servers: str) -> Cloud:
    cloud, reports = cloud_reports
    for subnet in cloud["subnets"]:
        if subnet["network_id"] == NET0:
            subnet["dns_nameservers"] = list(servers)
    return cloud, reports


def codes(result: JsonDict) -> list[str]:
    return [p["code"] for p in result["problems"]]


def test_dnsmasq_with_an_upstream_answers_as_the_vms_resolver() -> None:
    result = walk(with_dnsmasq(legacy(), "--no-resolv", "--server=192.168.0.53"), "vm-1", "dns")
    assert (result["verdict"], result["scenario"], result["probe"]) == ("ok", "to-dns", "UDP/53")
    assert (result["dst"]["kind"], result["dst"]["ip"]) == ("dns", DHCP_IP)
    last = result["hops"][-1]
    assert last["node"].endswith(QDHCP) and "192.168.0.53 (--server)" in last["evidence"]
    assert not any("qrouter" in h["node"] or "br-ex" in h["node"] for h in result["hops"]), "switched, not routed"


def test_dnsmasq_without_upstream_is_diagnosed() -> None:
    """What the lab's dnsmasq runs with: --no-resolv and no --server (no dns_nameservers anywhere)."""
    result = walk(with_dnsmasq(legacy(), "--no-resolv"), "vm-1", "dns")
    assert (result["verdict"], codes(result)) == ("broken", ["dns_no_upstream"])
    message = result["problems"][0]["message"]
    assert "no upstream" in message and "--dns-nameserver" in message and "own names" in message


def test_dnsmasq_reading_resolv_conf_has_an_upstream() -> None:
    result = walk(with_dnsmasq(legacy(), "--bind-dynamic"), "vm-1", "dns")
    assert (result["verdict"], result["problems"]) == ("ok", [])
    assert "resolv.conf" in result["hops"][-1]["evidence"]


def test_no_dnsmasq_in_qdhcp_is_broken() -> None:
    result = walk(with_dnsmasq(legacy(), "none"), "vm-1", "dns")
    assert (result["verdict"], codes(result)) == ("broken", ["dns_no_resolver"])
    assert f"no dnsmasq runs in {QDHCP}" in result["problems"][0]["message"]


def test_an_old_agents_report_leaves_dnsmasq_unknown() -> None:
    result = walk(legacy(), "vm-1", "dns")
    assert (result["verdict"], result["problems"]) == ("unknown", [])


def test_a_subnets_nameserver_on_the_network_is_walked_to_that_vm() -> None:
    result = walk(with_nameservers(legacy(), "10.0.0.10"), "vm-1", "dns")  # vm-0 runs a resolver
    assert (result["scenario"], result["dst"]["ip"], result["probe"]) == ("to-dns", "10.0.0.10", "UDP/53")
    assert result["hops"][-1]["node"].startswith("server:") and not any(QDHCP in h["node"] for h in result["hops"])


def test_a_nameserver_outside_is_walked_out_through_the_router() -> None:
    result = walk(with_nameservers(legacy(), "8.8.8.8"), "vm-1", "dns")
    assert (result["scenario"], result["dst"]["ip"]) == ("to-dns", "8.8.8.8")
    assert any("qrouter" in h["node"] for h in result["hops"]) and any("br-ex" in h["node"] for h in result["hops"])


def test_no_nameservers_and_no_dhcp_means_no_resolver() -> None:
    cloud, reports = legacy()
    for subnet in cloud["subnets"]:
        if subnet["network_id"] == NET0:
            subnet["enable_dhcp"] = False
    result = walk((cloud, reports), "vm-1", "dns")
    assert (result["verdict"], codes(result)) == ("broken", ["dns_no_resolver"])
    assert "no dns_nameservers" in result["problems"][0]["message"]


def test_dns_is_a_destination_only() -> None:
    with pytest.raises(PathError, match="ask it as the destination"):
        walk(legacy(), "dns", "vm-1")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["dnsmasq", "--no-resolv", "--server=10.1.1.1", "--server=10.1.1.2"], (["10.1.1.1", "10.1.1.2"], True)),
        (["dnsmasq", "--no-resolv"], ([], True)),
        (["dnsmasq"], ([], False)),
    ],
)
def test_upstreams_from_dnsmasqs_command_line(argv: list[str], expected: tuple[list[str], bool]) -> None:
    assert upstreams(argv) == expected


@pytest.mark.parametrize(("caller", "own", "theirs"), [("0", "0", "1"), ("1", "1", "0")])
def test_a_tenants_dns_and_metadata_questions_stay_in_its_own_project(caller: str, own: str, theirs: str) -> None:
    """Scoped as the API scopes a tenant: its resolver and its metadata path, nothing of the other's."""
    from tests.diagnosis_clouds import uid
    from tests.test_path_owned import ask, two_projects

    graph, topo = two_projects()
    src = f"port:{uid('vmport', int(own))}"
    other_ids = (uid("net", int(theirs)), uid("router", int(theirs)), uid("subnet", int(theirs)))
    dns = ask(graph, topo, caller, src, "dns")
    assert (dns["scenario"], dns["dst"]["ip"]) == ("to-dns", f"10.0.{own}.2"), dns
    metadata = ask(graph, topo, caller, src, "169.254.169.254")
    assert metadata["scenario"] == "to-metadata", metadata
    assert any(uid("router", int(own)) in h["node"] for h in metadata["hops"]), "through its own router"
    for answer in (dns, metadata):
        assert not any(other in repr(answer) for other in other_ids), answer
