"""IPv6 through a distributed router (issue 19, "DVR where it applies"), on the real two-host dvr lab.

The module adds IPv6 to scenario dvr (lab/scenarios/dvr_ipv6.py) and takes it away after its tests.
What DVR does with IPv6, as the lab shows it and topology/path/dvr6.py walks it: out of the sender's
host by the fip namespace when the host has one (its qrouter's main table has an IPv6 default via rfp-),
reaching only the external IPv6 subnet itself there; in, and every reply, through the snat namespace of
the dvr_snat host (qg-, then sg- on the tenant subnet). East-west is distributed as IPv4 is. Each walk is
explained, then pinged for real, and the interface counters of the devices the walk names move.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from tests.broken_states import ping_stops
from tests.conftest import lab_in
from tests.sg_nat_proof import connects_within, tcp_listener
from tests.test_path_broken import pings_again
from tests.test_path_isolation_lab import ask
from tests.test_topology_dvr import joined
from tests.test_topology_lab import keystone_token
from topology.api import StoredReports
from topology.path import explain
from topology.path.model import NAT_VERB

pytestmark = [pytest.mark.lab, pytest.mark.django_db]

JsonDict = dict[str, Any]
OUTSIDE6 = "2001:db8:1::1"  # the outside host, on public's IPv6 subnet
BEYOND6 = "2001:db8:ff::1"  # the outside host's loopback: beyond public's IPv6 subnet


@pytest.fixture(scope="module")
def ipv6(lab_session: None) -> Iterator[JsonDict]:
    """Scenario dvr with IPv6 added for this module, and taken off after it."""
    from lab.scenarios import dvr_ipv6

    state = lab_in("dvr")
    added = dvr_ipv6.add(state)
    try:
        yield added
    finally:
        dvr_ipv6.remove(state, added)


def walk(state: JsonDict, src: str, dst: str, probe: str = "icmp") -> JsonDict:
    return explain(joined(state), StoredReports(), src, dst, probe)


def port(state: JsonDict, vm: str) -> str:
    return f"port:{state['vms'][vm]['port_id']}"


def ok(result: JsonDict, scenario: str) -> JsonDict:
    assert (result["scenario"], result["verdict"], result.get("return_verdict")) == (scenario, "ok", "ok"), result[
        "problems"
    ]
    every = result["hops"] + result.get("return_hops", [])
    assert not any(NAT_VERB.search(h["what"] + h["evidence"]) for h in every), "IPv6 is never NATed"
    return result


def nodes(hops: list[JsonDict]) -> list[str]:
    return [h["node"] for h in hops]


def tx_packets(where: str, device: str) -> int:
    """A device's transmitted packets, read inside its namespace (``host:namespace``)."""
    from lab import api

    out = api.run_in(where, ["cat", f"/sys/class/net/{device}/statistics/tx_packets"])
    assert out.returncode == 0, out
    return int(out.stdout)


def ping6(source: str, target: str, count: int = 3, via: str | None = None) -> bool:
    from lab import api

    argv = ["ping", "-6", "-c", str(count), "-i", "0.3", "-W", "2", *(["-I", via] if via else []), target]
    return api.run_in(source, argv).returncode == 0


def device(hops: list[JsonDict], prefix: str, host: str) -> tuple[str, str]:
    """(host:namespace, device) of the hop on ``host`` whose device starts with ``prefix``."""
    hop = next(h for h in hops if h["node"].startswith(f"iface:{host}:") and h["node"].split(":")[3].startswith(prefix))
    _, at, namespace, name = hop["node"].split(":", 3)
    return f"{at}:{namespace}", name


def test_ipv6_leaves_by_the_hosts_fip_namespace_and_its_reply_comes_back_through_snat(
    dvr_lab: JsonDict, ipv6: JsonDict
) -> None:
    router = dvr_lab["routers"]["dvr-router"]
    result = ok(walk(dvr_lab, port(dvr_lab, "vm-app-1"), OUTSIDE6), "north-south-routed-dvr")
    fip_ns = f"netns:compute2:{dvr_lab['fip_namespaces']['compute2']}"
    qrouter = next(
        h for h in result["hops"] if h["node"] == f"netns:compute2:{router['namespace']}" and "table" in h["what"]
    )
    assert qrouter["evidence"].startswith("ip -6 route: ::/0 via fe80::") and "dev rfp-" in qrouter["evidence"]
    assert fip_ns in nodes(result["hops"]) and f"netns:controller:{router['snat_namespace']}" not in nodes(
        result["hops"]
    ), "out on compute2 itself, not through host 1's snat namespace"
    back = result["return_hops"]
    assert f"netns:controller:{router['snat_namespace']}" in nodes(back)
    assert any("2001:db8:10::/64 dev sg-" in h["evidence"] for h in back), back
    rfp, sg = device(result["hops"], "rfp-", "compute2"), device(back, "sg-", "controller")
    before = tx_packets(*rfp), tx_packets(*sg)
    assert ping6("vm-app-1", OUTSIDE6, count=5)
    after = tx_packets(*rfp), tx_packets(*sg)
    assert after[0] - before[0] >= 5 and after[1] - before[1] >= 5, (before, after)


def test_beyond_the_external_subnet_ipv6_dies_in_the_fip_namespace_and_ping6_agrees(
    dvr_lab: JsonDict, ipv6: JsonDict
) -> None:
    result = walk(dvr_lab, port(dvr_lab, "vm-app-1"), BEYOND6)
    assert (result["verdict"], [p["code"] for p in result["problems"]]) == ("broken", ["no_route"]), result
    failed = next(h for h in result["hops"] if h["status"] == "fail")
    assert failed["node"] == f"netns:compute2:{dvr_lab['fip_namespaces']['compute2']}"
    assert "DVR does not support IPv6 for the floating namespace" in result["problems"][0]["message"]
    assert not ping6("vm-app-1", BEYOND6, count=2)
    assert ping6("vm-app-1", OUTSIDE6, count=1), "the external subnet itself still answers"
    # From beyond, in through snat reaches the VM, but its reply dies in the same fip namespace.
    inbound = walk(dvr_lab, BEYOND6, ipv6["ipv6"]["vm-app-1"])
    assert (inbound["verdict"], inbound["return_verdict"]) == ("broken", "broken"), inbound["problems"]
    assert inbound["problems"][0]["direction"] == "return" and inbound["problems"][0]["code"] == "no_route"
    assert not ping6("outside", ipv6["ipv6"]["vm-app-1"], count=2, via=BEYOND6)


def test_the_outside_reaches_a_vms_own_ipv6_address_through_the_snat_namespace(
    dvr_lab: JsonDict, ipv6: JsonDict
) -> None:
    router = dvr_lab["routers"]["dvr-router"]
    address = ipv6["ipv6"]["vm-app-1"]
    result = ok(walk(dvr_lab, OUTSIDE6, address), "inbound-routed-dvr")
    snat = f"netns:controller:{router['snat_namespace']}"
    assert snat in nodes(result["hops"])
    assert any(ipv6["gateway6"] in h["what"] and "qg-" in h["what"] for h in result["hops"]), result["hops"]
    assert result["hops"][-1]["what"] == f"vm-app-1 receives it on {address}"
    assert f"netns:compute2:{router['namespace']}" in nodes(result["return_hops"]), "the reply leaves on compute2"
    sg = device(result["hops"], "sg-", "controller")
    before = tx_packets(*sg)
    assert ping6("outside", address, count=5)
    assert tx_packets(*sg) - before >= 5
    ssh = ok(walk(dvr_lab, OUTSIDE6, address, "ssh"), "inbound-routed-dvr")
    assert any("ingress tcp port 22" in h["evidence"] for h in ssh["hops"]), ssh["hops"]
    with tcp_listener("vm-app-1", 22, "::") as listener:
        assert connects_within("outside", address, 22)
        assert OUTSIDE6 in listener.seen(), listener.peers


def test_east_west_ipv6_is_routed_on_the_senders_host(dvr_lab: JsonDict, ipv6: JsonDict) -> None:
    router = dvr_lab["routers"]["dvr-router"]
    target = ipv6["ipv6"]["vm-db-1"]
    result = ok(walk(dvr_lab, port(dvr_lab, "vm-web-1"), target), "east-west-dvr")
    assert f"netns:controller:{router['namespace']}" in nodes(result["hops"])
    assert f"netns:compute2:{router['namespace']}" in nodes(result["return_hops"]), "the reply: on compute2"
    assert ping6("vm-web-1", target)


def test_tenants_ask_of_ipv6_on_dvr_and_learn_nothing_of_each_other(
    dvr_lab: JsonDict, ipv6: JsonDict, client: Client
) -> None:
    joined(dvr_lab)
    address = ipv6["ipv6"]["vm-app-1"]
    status, body = ask(client, keystone_token(dvr_lab, "demo"), port(dvr_lab, "vm-web-1"), address)
    assert status == 200 and json.loads(body)["verdict"] == "ok", body
    status, body = ask(client, keystone_token(dvr_lab, "alt"), f"{OUTSIDE6}", address)
    assert status in (400, 404), body
    for secret in (address, ipv6["gateway6"], dvr_lab["vms"]["vm-app-1"]["port_id"], "vm-app-1", "dvr-router"):
        assert secret not in body, (secret, body)


def test_taking_a_dual_stack_networks_ipv6_interface_off_breaks_its_ipv4_east_west_where_the_walk_says(
    dvr_lab: JsonDict, ipv6: JsonDict
) -> None:
    """Found by this module's own teardown: Neutron's OVS agent, told the IPv6 router interface of private2
    is gone, deletes the DVR_TO_SRC_MAC flows of private2's ports on br-int, the IPv4 subnet's too. IPv4
    routed into compute2 from controller is then dropped there, while the explainer once said ok."""
    from lab import keystone, neutron
    from lab.scenarios import dvr_ipv6

    demo = neutron.client(keystone.DEMO)
    router, subnet = dvr_lab["routers"]["dvr-router"]["id"], ipv6["subnets"]["private2_v6_subnet"]
    source, target = port(dvr_lab, "vm-web-1"), dvr_lab["vms"]["vm-db-1"]["ip"]
    assert walk(dvr_lab, source, target)["verdict"] == "ok"
    demo.put(f"/v2.0/routers/{router}/remove_router_interface", {"subnet_id": subnet})
    assert ping_stops("vm-web-1", target)
    result = walk(dvr_lab, source, target)
    assert result["verdict"] == "broken", result["problems"]
    first = result["problems"][0]
    assert (first["code"], first["node"], first.get("direction")) == (
        "dvr_to_src_mac_missing",
        "bridge:compute2:br-int",
        None,
    ), result["problems"]
    dvr_ipv6.resync_ovs_agents(dvr_lab)  # what the message says to do: the agents' full resync
    assert walk(dvr_lab, source, target)["verdict"] == "ok"
    pings_again("vm-web-1", target)
