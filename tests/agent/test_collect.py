"""The agent against real namespaces, veths, a Linux bridge, policy routing and NAT."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.agent.conftest import SUFFIX, Topology, needs_root, sh
from topology.agent import collect, netlink
from topology.agent.collect import collect_report
from topology.report import validate_report


def collect_dict(**kwargs: Any) -> dict[str, Any]:
    """A report as the plain dict the server sees (it also has the agent's extra keys)."""
    return dict(collect_report("agt-host", **kwargs))


def by_name(items: list, name: str) -> dict:
    found = [item for item in items if item["name"] == name]
    assert found, f"{name} not in {[item['name'] for item in items]}"
    return found[0]


def namespace(report: dict, name: str) -> dict:
    return by_name(report["namespaces"], name)


def test_it_reports_veth_peers_across_namespaces(topology: Topology) -> None:
    report = collect_dict(ovsdb=None)
    router = namespace(report, topology.router)["interfaces"]
    fip = namespace(report, topology.fip)["interfaces"]

    rfp = by_name(router, topology.rfp)
    assert (rfp["kind"], rfp["peer"], rfp["peer_netns"]) == ("veth", topology.fpr, topology.fip)
    fpr = by_name(fip, topology.fpr)
    assert (fpr["peer"], fpr["peer_netns"]) == (topology.rfp, topology.router)

    # root <-> namespace, both directions; null peer_netns means the root namespace
    root_end = by_name(report["interfaces"], topology.root_veth)
    assert (root_end["peer"], root_end["peer_netns"]) == (topology.router_root_veth, topology.router)
    ns_end = by_name(router, topology.router_root_veth)
    assert (ns_end["peer"], ns_end["peer_netns"]) == (topology.root_veth, None)

    # both ends in the same namespace
    port = by_name(router, topology.bridge_port)
    assert (port["peer"], port["peer_netns"]) == (topology.bridge_port_peer, None)


def test_it_reports_bridge_masters_addresses_and_state(topology: Topology) -> None:
    report = collect_dict(ovsdb=None)
    router = namespace(report, topology.router)["interfaces"]
    bridge = by_name(router, topology.bridge)
    assert bridge["kind"] == "bridge"
    assert bridge["addresses"][0] == "10.249.3.1/24"
    assert by_name(router, topology.bridge_port)["master"] == topology.bridge
    assert by_name(router, topology.bridge_port_peer)["master"] is None
    rfp = by_name(router, topology.rfp)
    assert "10.249.0.1/24" in rfp["addresses"]
    assert rfp["state"] == "UP" and rfp["mtu"] == 1500 and re.fullmatch(r"[0-9a-f:]{17}", rfp["mac"])
    assert by_name(router, "lo")["kind"] == "loopback"


def test_it_reports_policy_rules_and_table_routes(topology: Topology) -> None:
    ns = namespace(collect_dict(ovsdb=None), topology.router)
    assert {
        "dst": "0.0.0.0/0",
        "gateway": "10.249.0.2",
        "dev": topology.rfp,
        "table": 16,
        "src": None,
    }.items() <= next(r for r in ns["routes"] if r["table"] == 16).items()
    connected = next(r for r in ns["routes"] if r["dst"] == "10.249.0.0/24")
    assert (connected["table"], connected["src"], connected["scope"]) == (254, "10.249.0.1", "link")
    assert not any(r["table"] == 255 for r in ns["routes"]), "the local table is left out"

    rule = next(r for r in ns["rules"] if r["priority"] == 32000)
    assert (rule["from"], rule["to"], rule["table"], rule["action"]) == ("10.249.0.5/32", None, 16, "lookup")
    # DVR keeps the router's address in `from 10.0.0.1/24`: not normalised away
    big = next(r for r in ns["rules"] if r["priority"] == 32001)
    assert (big["from"], big["table"]) == ("10.249.3.1/24", 3232236545)
    assert any(r["priority"] == 32766 and r["table"] == 254 for r in ns["rules"])


def test_it_reports_nat_rules_with_counters(topology: Topology) -> None:
    # One packet through the SNAT rule, entirely inside the test's namespaces.
    sh("ip", "netns", "exec", topology.router, "ping", "-c", "1", "-W", "2", "10.249.0.2")
    ns = namespace(collect_dict(ovsdb=None), topology.router)
    nat = ns["iptables"]["nat"]
    match = re.search(
        rf"^\[(\d+):(\d+)\] -A POSTROUTING -s 10\.249\.0\.0/24 -o {topology.rfp} -j SNAT --to-source 10\.249\.0\.1$",
        nat,
        re.MULTILINE,
    )
    assert match, nat
    assert int(match.group(1)) >= 1
    assert nat.startswith("*nat\n") and nat.endswith("COMMIT\n") and "# Generated" not in nat
    assert "*filter" in ns["iptables"]["filter"] or ns["iptables"]["filter"] == ""
    # the fip-like namespace has no tables at all: no iptables-save was run for it
    assert namespace(collect_dict(ovsdb=None), topology.fip)["iptables"] == {"nat": "", "filter": ""}


def test_it_validates(topology: Topology) -> None:
    report = collect_dict(ovsdb=None)
    assert validate_report(report) == []
    assert report["version"] == 1 and report["host"] == "agt-host" and report["collected_at"].endswith("Z")
    assert report["ovs"] == {"bridges": [], "flows": {}}


def test_it_never_creates_a_missing_namespace(tmp_path: Path) -> None:
    needs_root()
    missing = f"agt-missing-{SUFFIX}"
    with pytest.raises(netlink.NamespaceGone):
        netlink.open_namespace(Path("/run/netns"), missing)
    assert not Path("/run/netns", missing).exists()
    assert missing not in sh("ip", "netns", "list").stdout


def test_it_skips_namespaces_that_vanish_mid_collection(topology: Topology, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = f"agt-gone-{SUFFIX}"
    real = collect.list_namespaces
    monkeypatch.setattr(collect, "list_namespaces", lambda d: [missing, *real(d)])
    report = collect_dict(ovsdb=None)
    assert missing in report["collection"]["namespaces_skipped"]
    assert missing not in [ns["name"] for ns in report["namespaces"]]
    assert topology.router in [ns["name"] for ns in report["namespaces"]]
    assert not Path("/run/netns", missing).exists()


def test_a_node_without_any_namespace_directory_reports_none(tmp_path: Path) -> None:
    needs_root()
    report = collect_dict(ovsdb=None, netns_dir=tmp_path / "netns")
    assert report["namespaces"] == [] and report["interfaces"]
    assert not (tmp_path / "netns").exists()


def test_it_skips_a_file_that_is_not_a_namespace(tmp_path: Path) -> None:
    # What `ip netns add` leaves for an instant (file created, not yet mounted)
    # or a crashed agent leaves for good.
    needs_root()
    (tmp_path / "agtstale").write_text("")
    report = collect_dict(ovsdb=None, netns_dir=tmp_path)
    assert report["namespaces"] == []
    assert report["collection"]["namespaces_skipped"] == ["agtstale"]


def test_it_resolves_ambiguous_ifindexes_by_asking_the_kernel() -> None:
    """Two namespaces hold a veth whose ifindexes match the pair: only the nsid tells."""

    def veth(index: int, peer: int, nsid: int | None, name: str) -> netlink.Link:
        return netlink.Link(index, name, "veth", None, 1500, "UP", True, None, peer, nsid)

    root = netlink.NamespaceState(None, [], {}, [], [])
    router = netlink.NamespaceState("qrouter-a", [veth(5, 7, 1, "rfp-a")], {}, [], [], root_nsid=0)
    fip1 = netlink.NamespaceState("fip-1", [veth(7, 5, 3, "fpr-a")], {}, [], [], root_nsid=0)
    fip2 = netlink.NamespaceState("fip-2", [veth(7, 5, 4, "fpr-b")], {}, [], [], root_nsid=0)
    asked = []

    def verify(ns: str, nsid: int, candidate: str) -> bool:
        asked.append((ns, nsid, candidate))
        return (ns, nsid, candidate) == ("qrouter-a", 1, "fip-2")

    peers = netlink.resolve_veth_peers(root, [router, fip1, fip2], {}, verify)
    assert peers[("qrouter-a", 5)] == ("fpr-b", "fip-2")
    assert ("qrouter-a", 1, "fip-1") in asked


def test_a_veth_whose_peer_is_in_a_namespace_the_host_does_not_name_reports_the_peers_ifindex() -> None:
    """The lab's wire between two hosts' br-ex: its far end is in compute2's network namespace, which host 1
    names nowhere; the peer's ifindex there is reported (the join pairs it with compute2's report)."""

    def veth(index: int, peer: int, nsid: int | None, name: str) -> netlink.Link:
        return netlink.Link(index, name, "veth", None, 1500, "UP", True, None, peer, nsid)

    root = netlink.NamespaceState(None, [veth(40, 5, 7, "lab-ex1"), veth(41, 9, 1, "tapx")], {}, [], [])
    router = netlink.NamespaceState("qrouter-a", [veth(9, 41, 0, "qr-x")], {}, [], [], root_nsid=0)
    peers = netlink.resolve_veth_peers(root, [router], {1: "qrouter-a"})
    wire, tap = netlink.interfaces(root, peers)
    assert (wire["peer"], wire.get("peer_ifindex"), wire["ifindex"]) == (None, 5, 40)
    assert (tap["peer"], tap["peer_netns"]) == ("qr-x", "qrouter-a") and "peer_ifindex" not in tap
    (inner,) = netlink.interfaces(router, peers)
    assert inner["peer"] == "tapx" and "peer_ifindex" not in inner


def test_the_agent_does_not_import_django() -> None:
    code = "import sys, topology.agent.__main__, topology.report; assert 'django' not in sys.modules, 'django'"
    subprocess.run([".venv/bin/python", "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


def test_the_netlink_parsers_agree_with_pyroute2(topology: Topology) -> None:
    """read_namespace() parses netlink itself for speed: it must read what pyroute2's classes read."""
    root_fd = netlink.current_namespace_fd()
    try:
        for name in (None, topology.router, topology.fip):
            fd = netlink.open_namespace(Path("/run/netns"), name) if name else os.dup(root_fd)
            try:
                with netlink.entered(fd, root_fd):
                    sock = netlink.rtnl_socket()
            finally:
                os.close(fd)
            with sock:
                fast = netlink.read_namespace(sock, name)
                reference = netlink.read_namespace_with_pyroute2(sock, name)
            # Links compared by ifindex: the lab may add or remove a root link between the two dumps.
            fast_links = {link.ifindex: link for link in fast.links}
            reference_links = {link.ifindex: link for link in reference.links}
            common = sorted(fast_links.keys() & reference_links.keys())
            assert len(common) >= 2
            assert [fast_links[i] for i in common] == [reference_links[i] for i in common]
            if name is not None:  # the test's own namespaces do not change under it
                assert fast.addresses == reference.addresses
                assert fast.routes == reference.routes and len(fast.routes) >= 2
                assert fast.rules == reference.rules and len(fast.rules) >= 5
    finally:
        os.close(root_fd)


def test_unchanged_rulesets_reuse_their_text_until_a_fresh_collection(topology: Topology) -> None:
    collector = collect.Collector("agt-host", ovsdb=None)
    try:
        collector.collect()
        assert topology.router in collector.iptables.ran
        assert topology.fip not in collector.iptables.ran, "no tables there: no process"
        report: dict[str, Any] = dict(collector.collect(fresh=False))
        assert topology.router not in collector.iptables.ran, "unchanged ruleset: cached text"
        assert "SNAT" in namespace(report, topology.router)["iptables"]["nat"]

        sh(
            "ip",
            "netns",
            "exec",
            topology.router,
            "iptables",
            "-t",
            "nat",
            "-A",
            "PREROUTING",
            "-d",
            "10.249.0.9/32",
            "-j",
            "DNAT",
            "--to-destination",
            "10.249.3.9",
        )
        report = dict(collector.collect(fresh=False))
        assert topology.router in collector.iptables.ran, "the ruleset changed"
        assert "DNAT --to-destination 10.249.3.9" in namespace(report, topology.router)["iptables"]["nat"]
        collector.collect(fresh=False)
        assert topology.router not in collector.iptables.ran
        collector.collect(fresh=True)
        assert topology.router in collector.iptables.ran, "a resync refreshes the counters"
    finally:
        collector.close()


def test_a_missing_iptables_save_is_an_error_in_the_report_not_a_crash(
    topology: Topology, monkeypatch: pytest.MonkeyPatch
) -> None:
    # iptables is installed here: a program name that does not exist stands in for a
    # machine without it (a fresh one, before bin/setup), which the test cannot make.
    from topology.agent import iptables

    monkeypatch.setattr(iptables, "IPTABLES_SAVE", ("agt-no-such-iptables-save", "-c"))
    report = collect_dict(ovsdb=None)
    assert namespace(report, topology.router)["iptables"] == {"nat": "", "filter": ""}
    assert any(
        e.startswith(f"iptables {topology.router}: agt-no-such-iptables-save could not run") for e in report["errors"]
    ), report["errors"]
    assert validate_report(report) == []


def test_a_failed_set_up_command_says_why() -> None:
    needs_root()
    with pytest.raises(AssertionError) as caught:
        sh("ip", "netns", "exec", f"agtmissing{SUFFIX}", "true")
    message = str(caught.value)
    assert f"ip netns exec agtmissing{SUFFIX} true exited with 255" in message
    assert f'Cannot open network namespace "agtmissing{SUFFIX}"' in message
