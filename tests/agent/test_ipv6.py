"""The agent reads IPv6 (issue 19, part 3) in real namespaces made here: addresses, routes, `ip -6 rule`
and `ip6tables-save`, each held to what `ip -6 -j` and ip6tables-save print for the same namespace.

Two namespaces joined by a veth with ULA addresses (fd00:249::/64, never routed off the machine: both ends
are namespaces made here), a route and a policy rule of each family, an ip6tables rule in the first.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.agent.conftest import SUFFIX, needs_iptables, needs_root, sh
from topology.agent import collect, iptables
from topology.agent.collect import collect_report
from topology.report import validate_report


@dataclass(frozen=True)
class Pair:
    left: str  # namespace with the rules
    right: str
    left_dev: str
    right_dev: str


@pytest.fixture
def pair() -> Iterator[Pair]:
    needs_root()
    needs_iptables()
    if shutil.which("ip6tables") is None:
        pytest.fail("ip6tables not installed: bin/setup installs iptables (apt), which brings it")
    p = Pair(f"agt6l{SUFFIX}", f"agt6r{SUFFIX}", f"agt6a{SUFFIX}", f"agt6b{SUFFIX}")
    try:
        for ns in (p.left, p.right):
            sh("ip", "netns", "add", ns)
        left = ("ip", "-n", p.left)
        sh(*left, "link", "add", p.left_dev, "type", "veth", "peer", "name", p.right_dev, "netns", p.right)
        for ns, dev in ((p.left, p.left_dev), (p.right, p.right_dev)):
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "link", "set", dev, "up")
        sh(*left, "addr", "add", "10.249.6.1/24", "dev", p.left_dev)
        sh(*left, "-6", "addr", "add", "fd00:249::1/64", "dev", p.left_dev, "nodad")
        sh("ip", "-n", p.right, "-6", "addr", "add", "fd00:249::2/64", "dev", p.right_dev, "nodad")
        sh(*left, "-6", "route", "add", "fd00:249:1::/64", "via", "fd00:249::2", "dev", p.left_dev)
        sh(*left, "-6", "route", "add", "default", "via", "fd00:249::2", "dev", p.left_dev, "table", "16")
        sh(*left, "-6", "rule", "add", "from", "fd00:249::5", "lookup", "16", "priority", "32000")
        sh(*left, "rule", "add", "from", "10.249.6.5", "lookup", "16", "priority", "32001")
        sh("ip", "netns", "exec", p.left, "ip6tables", "-A", "INPUT", "-p", "ipv6-icmp", "-j", "ACCEPT")
        yield p
    finally:
        for ns in (p.left, p.right):
            sh("ip", "netns", "del", ns, check=False)


def ip_json(ns: str, *args: str) -> Any:
    return json.loads(sh("ip", "-n", ns, "-j", *args).stdout or "[]")


def namespace(report: dict[str, Any], name: str) -> dict[str, Any]:
    found = [n for n in report["namespaces"] if n["name"] == name]
    assert found, [n["name"] for n in report["namespaces"]]
    return found[0]


def test_ipv6_addresses_routes_and_rules_are_what_ip_6_prints(pair: Pair) -> None:
    report: dict[str, Any] = dict(collect_report("agt-host", ovsdb=None))
    left = namespace(report, pair.left)
    dev = next(i for i in left["interfaces"] if i["name"] == pair.left_dev)
    printed = {
        f"{a['local']}/{a['prefixlen']}"
        for link in ip_json(pair.left, "-6", "addr", "show", "dev", pair.left_dev)
        for a in link["addr_info"]
    }
    assert "fd00:249::1/64" in printed and any(a.startswith("fe80::") for a in printed), printed
    assert printed <= set(dev["addresses"]), "every IPv6 address `ip -6 addr` prints, link-local included"
    assert "10.249.6.1/24" in dev["addresses"], "and the IPv4 one beside them"
    v6_routes = [r for r in left["routes"] if r.get("family") == 6]
    printed_routes = ip_json(pair.left, "-6", "route", "show", "table", "all")
    main = next(r for r in printed_routes if r["dst"] == "fd00:249:1::/64")
    ours = next(r for r in v6_routes if r["dst"] == "fd00:249:1::/64")
    assert (ours["gateway"], ours["dev"], ours["table"]) == (main["gateway"], main["dev"], 254)
    default16 = next(r for r in v6_routes if r["table"] == 16)
    assert (default16["dst"], default16["gateway"]) == ("::/0", "fd00:249::2")
    printed_rules = ip_json(pair.left, "-6", "rule", "show")
    rule = next(r for r in left["rules"] if r["priority"] == 32000)
    assert rule["family"] == 6 and rule["from"] == "fd00:249::5/128" and rule["table"] == 16
    assert {r["priority"] for r in left["rules"] if r.get("family") == 6} == {r["priority"] for r in printed_rules}
    assert next(r for r in left["rules"] if r["priority"] == 32001)["family"] == 4
    assert validate_report(report) == []


def test_ip6tables_save_text_is_reported_where_it_has_rules(pair: Pair) -> None:
    report: dict[str, Any] = dict(collect_report("agt-host", ovsdb=None))
    left, right = namespace(report, pair.left), namespace(report, pair.right)
    printed = sh("ip", "netns", "exec", pair.left, "ip6tables-save", "-c").stdout
    rule = next(line for line in printed.splitlines() if "ipv6-icmp" in line)
    assert rule in left["ip6tables"]["filter"], left["ip6tables"]
    assert "ipv6-icmp" not in left["iptables"]["filter"], "IPv6 rules are not IPv4's"
    assert right["ip6tables"] == {"nat": "", "filter": ""}, "no IPv6 table there: nothing run, empty text"
    assert "ip6tables" in report and report["collection"]["ip6tables"] == "collected"
    assert validate_report(report) == []


def test_a_node_without_ip6tables_save_says_so_and_reports_the_rest(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ip6tables-save is installed here: a name that does not exist stands in for a node without it
    # (a minimal image), which the test cannot make.
    monkeypatch.setattr(iptables, "IP6TABLES_SAVE", ("agt-no-such-ip6tables-save", "-c"))
    report: dict[str, Any] = dict(collect_report("agt-host", ovsdb=None))
    assert report["collection"]["ip6tables"] == "absent: ip6tables-save is not installed"
    assert "ip6tables" not in report and all("ip6tables" not in n for n in report["namespaces"])
    assert not any("ip6tables" in e for e in report["errors"]), "absent is no error"
    assert (
        "fd00:249::1/64"
        in next(i for i in namespace(report, pair.left)["interfaces"] if i["name"] == pair.left_dev)["addresses"]
    )
    assert validate_report(report) == []


def test_unchanged_ipv6_rules_reuse_their_text_until_a_fresh_collection(pair: Pair) -> None:
    collector = collect.Collector("agt-host", ovsdb=None)
    try:
        first = collector.collect()
        assert collector.ip6tables is not None
        ran_first = list(collector.ip6tables.ran)
        again = collector.collect(fresh=False)
        assert pair.left in ran_first and pair.left not in collector.ip6tables.ran, "same generation: cached"
        assert namespace(dict(again), pair.left)["ip6tables"] == namespace(dict(first), pair.left)["ip6tables"]
        sh("ip", "netns", "exec", pair.left, "ip6tables", "-A", "INPUT", "-p", "tcp", "--dport", "2222", "-j", "DROP")
        changed = collector.collect(fresh=False)
        assert (
            "dpt:2222" in namespace(dict(changed), pair.left)["ip6tables"]["filter"]
            or "--dport 2222" in (namespace(dict(changed), pair.left)["ip6tables"]["filter"])
        )
    finally:
        collector.close()
