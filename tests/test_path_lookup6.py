"""The kernel's IPv6 route lookup as the DVR walks make it (topology/path/routed6.lookup6), pure.

The rules and routes are a DVR qrouter's and fip namespace's as the lab's agent reported them (see
tests/test_path_dvr6_lab.py): the main table first (its IPv6 default via rfp- where the host has a fip
namespace), then each subnet's ``from <cidr> lookup <index>`` to its sg- port; ``iif fpr-`` rules in
the fip namespace.
"""

from __future__ import annotations

from typing import Any

from topology.path.lookup import describe_lookup
from topology.path.routed6 import lookup6
from topology.path.topo import Topo

NS = "netns:compute2:qrouter-r"
SUBNET6, OTHER6 = "2001:db8:10::/64", "2001:db8:12::/64"
VM6 = "2001:db8:10:0:f816:3eff:fee3:c791"


def rule(priority: int, table: int, source: str | None = None, iif: str | None = None) -> dict[str, Any]:
    return {"priority": priority, "from": source, "table": table, "iif": iif, "action": "lookup", "family": 6}


def route(dst: str, dev: str, table: int = 254, gateway: str | None = None) -> dict[str, Any]:
    return {"dst": dst, "dev": dev, "table": table, "gateway": gateway, "family": 6, "type": "unicast"}


def qrouter(with_fip_route: bool, rules: list[dict[str, Any]] | None = None) -> Topo:
    routes = [
        route(SUBNET6, "qr-a"),
        route(OTHER6, "qr-b"),
        route("::/0", "qr-a", table=145247553, gateway="2001:db8:10::252"),
        route("::/0", "qr-b", table=90238027, gateway="2001:db8:12::198"),
        {"dst": "0.0.0.0/0", "dev": "rfp-r", "table": 16, "gateway": "169.254.88.135", "family": 4},
    ]
    if with_fip_route:
        routes.append(route("::/0", "rfp-r", gateway="fe80::e0d2:4dff:fe13:ffcd"))
    if rules is None:
        rules = [
            rule(0, 255),
            rule(32766, 254),
            rule(145247553, 145247553, SUBNET6),
            rule(90238027, 90238027, OTHER6),
            {**rule(167772161, 167772161, "10.0.0.1/24"), "family": 4},
        ]
    node = {
        "id": NS,
        "kind": "netns",
        "host": "compute2",
        "label": "qrouter-r",
        "attrs": {"rules": rules, "routes": routes},
    }
    return Topo({"nodes": [node], "edges": []}, {})


def test_the_main_tables_default_via_rfp_wins_before_the_subnets_policy_rule() -> None:
    found, chosen = lookup6(qrouter(with_fip_route=True), NS, VM6, "2001:db8:1::1")
    assert found is not None and chosen is not None
    assert (found["table"], chosen["dev"]) == (254, "rfp-r")
    assert describe_lookup(found, chosen) == "ip -6 route: ::/0 via fe80::e0d2:4dff:fe13:ffcd dev rfp-r"


def test_without_it_the_subnets_rule_sends_it_to_its_own_sg_port_not_another_subnets() -> None:
    found, chosen = lookup6(qrouter(with_fip_route=False), NS, VM6, "2001:db8:1::1")
    assert found is not None and chosen is not None
    assert (found["table"], chosen["gateway"]) == (145247553, "2001:db8:10::252")
    assert describe_lookup(found, chosen) == (
        "ip -6 rule: 145247553: from 2001:db8:10::/64 lookup 145247553; "
        "ip -6 route: ::/0 via 2001:db8:10::252 dev qr-a table 145247553"
    )


def test_a_connected_prefix_beats_every_default_and_ipv4_rules_never_apply() -> None:
    found, chosen = lookup6(qrouter(with_fip_route=True), NS, VM6, "2001:db8:12::5")
    assert found is not None and chosen is not None and chosen["dev"] == "qr-b"


def test_a_source_no_rule_covers_finds_no_route_when_main_has_no_default() -> None:
    assert lookup6(qrouter(with_fip_route=False), NS, "2001:db8:99::1", "2001:db8:1::1") == (None, None)


def test_an_iif_rule_applies_only_to_packets_that_came_in_on_that_device() -> None:
    rules = [rule(0, 255), rule(100, 145247553, iif="fpr-r"), rule(32766, 254)]
    topo = qrouter(with_fip_route=False, rules=rules)
    assert lookup6(topo, NS, VM6, "2001:db8:1::1", iif="fg-x") == (None, None)
    found, chosen = lookup6(topo, NS, VM6, "2001:db8:1::1", iif="fpr-r")
    assert found is not None and chosen is not None and found["priority"] == 100


def test_a_namespace_without_reported_rules_looks_in_its_main_table() -> None:
    found, chosen = lookup6(qrouter(with_fip_route=True, rules=[]), NS, VM6, "2001:db8:1::1")
    assert found is not None and chosen is not None and chosen["dev"] == "rfp-r"
