"""tasks/firewall_lines.py: the iptables line of a rule, as the lab's OVS agent wrote them (iptables-save of
the allinone lab; tests/test_secgroups_lab.py checks more against the agent itself), and the data-plane
check of a removed rule over report dicts."""

from __future__ import annotations

from typing import Any

import pytest

from tasks.dataplane import firewall_rule_absent
from tasks.firewall_lines import chain_name, describe, ipset_name, iptables_line

GROUP = "8340b1c9-3610-4267-9d27-5a4c1f0e2d11"
PORT = "46a7e5a6-07aa-4e1e-9a0b-1f2e3d4c5b6a"


def rule(**fields: Any) -> dict[str, Any]:
    return {"direction": "ingress", "ethertype": "IPv4", "protocol": None, "port_range_min": None,
            "port_range_max": None, "remote_ip_prefix": None, "remote_group_id": None, **fields}  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "line"),
    [
        ({"protocol": "icmp"}, "-p icmp -j RETURN"),
        ({"protocol": "tcp", "port_range_min": 22, "port_range_max": 22}, "-p tcp -m tcp --dport 22 -j RETURN"),
        ({"remote_group_id": GROUP}, "-m set --match-set NIPv48340b1c9-3610-4267-9d27- src -j RETURN"),
        ({"ethertype": "IPv6", "remote_group_id": GROUP},
         "-m set --match-set NIPv68340b1c9-3610-4267-9d27- src -j RETURN"),
        ({"protocol": "tcp", "port_range_min": 8000, "port_range_max": 8099, "remote_ip_prefix": "192.168.1.0/24"},
         "-s 192.168.1.0/24 -p tcp -m tcp -m multiport --dports 8000:8099 -j RETURN"),
        ({"protocol": "icmp", "port_range_min": 8, "port_range_max": 0}, "-p icmp -m icmp --icmp-type 8/0 -j RETURN"),
        ({"direction": "egress", "protocol": "udp", "port_range_min": 53, "port_range_max": 53,
          "remote_ip_prefix": "192.168.1.1"}, "-d 192.168.1.1/32 -p udp -m udp --dport 53 -j RETURN"),
        ({"protocol": "6", "remote_ip_prefix": "0.0.0.0/0"}, "-p tcp -j RETURN"),
        ({"ethertype": "IPv6", "protocol": "icmp"}, "-p ipv6-icmp -j RETURN"),
        ({"protocol": "any"}, "-j RETURN"),
    ],
)  # fmt: skip
def test_a_rule_becomes_the_line_the_agent_writes(fields: dict[str, Any], line: str) -> None:
    assert iptables_line(rule(**fields)) == line


def test_what_cannot_be_known_from_the_rule_is_none() -> None:
    assert iptables_line(rule(protocol="gre-ish")) is None
    assert iptables_line(rule(remote_address_group_id="x")) is None
    assert iptables_line(rule(direction="sideways")) is None


def test_names_and_summaries() -> None:
    assert chain_name("ingress", PORT) == "neutron-openvswi-i46a7e5a6-0"
    assert chain_name("egress", PORT) == "neutron-openvswi-o46a7e5a6-0"
    assert len(ipset_name(GROUP, "IPv4")) == 29
    assert describe(rule(protocol="tcp", port_range_min=22, port_range_max=22)) == "ingress IPv4 tcp 22 from 0.0.0.0/0"
    assert describe(rule(ethertype="IPv6", direction="egress")) == "egress IPv6 any to ::/0"
    assert describe(rule(remote_group_id=GROUP)) == f"ingress IPv4 any from group {GROUP}"


def report(*lines: str, table: str = "iptables") -> dict[str, Any]:
    chain = chain_name("ingress", PORT)
    text = "\n".join([f":{chain} - [0:0]", *(f"[3:180] -A {chain} {line}" for line in lines), "COMMIT"])
    return {table: {"filter": text}}


def facts(**more: Any) -> dict[str, Any]:
    return {"port_ids": [PORT], "line": "-p icmp -j RETURN", "direction": "ingress", "ethertype": "IPv4", **more}


def test_the_removed_rules_line_gone_or_still_there() -> None:
    still = firewall_rule_absent(facts(), {"c": report("-p icmp -j RETURN", "-p tcp -m tcp --dport 22 -j RETURN")})
    assert still is not None and not still.ok and "c:neutron-openvswi-i46a7e5a6-0 still hold" in still.message
    gone = firewall_rule_absent(facts(), {"c": report("-p tcp -m tcp --dport 22 -j RETURN")})
    assert gone is not None and gone.ok and "is gone from c:neutron-openvswi-i46a7e5a6-0" in gone.message


def test_nothing_to_see_is_none_never_ok() -> None:
    assert firewall_rule_absent(facts(), {"c": {"iptables": {"filter": ""}}}) is None  # the port is elsewhere
    assert firewall_rule_absent(facts(line=None), {"c": report("-p icmp -j RETURN")}) is None
    assert firewall_rule_absent(facts(port_ids=[]), {"c": report("-p icmp -j RETURN")}) is None


def test_an_ipv6_rule_is_looked_for_in_ip6tables() -> None:
    six = facts(ethertype="IPv6", line="-p ipv6-icmp -j RETURN")
    in_v4 = report("-p ipv6-icmp -j RETURN")  # a chain of that name in iptables says nothing of IPv6
    assert firewall_rule_absent(six, {"c": in_v4}) is None
    seen = firewall_rule_absent(six, {"c": report("-p ipv6-icmp -j RETURN", table="ip6tables")})
    assert seen is not None and not seen.ok
