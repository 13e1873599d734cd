"""Verify on ML2/OVN (issue 16 on OVN): each OVN walk checked by the real ``ovn_trace`` probe on REAL databases.

The databases, graph and walks are tests/test_path_ovn.py's; the Asker runs the agent's own probe code
(topology/agent/probes.run_probe) against the test's southbound as an agent on the chassis would. The
only stand-ins are the agent connection (``connected``) and its report (a minimal one: ovn_trace names
are logical, the southbound says whether they exist). Healthy walks must agree with ovn-trace; a state
broken for real in the databases must make the walk and ovn-trace agree on the stop.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lab.ovn_dbs import OvnDbs, wait_until
from tests.test_ovn_read import NET, PG, PORT_VM, SG, VM_MAC
from tests.test_path_ovn import MAC_B, PORT_B, PORT_C, PROVNET, graph_of, two_chassis
from topology import graph as g
from topology.agent.probes import run_probe
from topology.path import Probe, Topo, explain
from topology.probes.verify import Asker, verify_result

pytestmark = pytest.mark.ovn
OUTSIDE = "203.0.113.10"


@pytest.fixture(scope="module")
def dbs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OvnDbs]:
    with two_chassis(tmp_path_factory.mktemp("ovn-verify")) as started:
        yield started


def asker(dbs: OvnDbs) -> Asker:
    def run(host: str, kind: str, args: dict[str, Any], timeout: float) -> dict[str, Any]:
        return run_probe(kind, args, timeout, ovn_sb_db=dbs.sb)

    return Asker(reports=lambda host: {"host": host}, run=run, connected=lambda host: True)


def verified(dbs: OvnDbs, src: str, dst: str) -> dict[str, Any]:
    graph = graph_of(dbs)
    probe = Probe("icmp")
    return verify_result(asker(dbs), Topo(graph, {}), explain(graph, {}, src, dst), probe)


def checked(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [h["verify"] for h in result["hops"] if h["verify"]["state"] != "not_checked"]


@pytest.mark.parametrize(
    ("src", "dst", "scenario", "delivered"),
    [
        (g.port_id(PORT_VM), g.port_id(PORT_B), "same-network-ovn", PORT_B),
        (g.port_id(PORT_VM), g.port_id(PORT_C), "east-west-ovn", PORT_C),
        (g.port_id(PORT_B), OUTSIDE, "north-south-snat-ovn", None),
    ],
)
def test_a_healthy_ovn_walk_agrees_with_ovn_trace(
    dbs: OvnDbs, src: str, dst: str, scenario: str, delivered: str | None
) -> None:
    result = verified(dbs, src, dst)
    assert (result["scenario"], result["verdict"]) == (scenario, "ok"), result["problems"]
    assert result["verify"]["disagree"] == 0 and result["verify"]["agree"] == 1, result["verify"]
    [check] = checked(result)
    assert check["tracer"] == "ovn-trace", check
    if delivered:
        assert check["answer"] == f"is delivered to {delivered}", check
    else:
        assert check["answer"].startswith(f"is delivered to {PROVNET}") and "localnet" in check["answer"], check
    covered = [h["verify"]["reason"] for h in result["hops"] if h["verify"]["state"] == "not_checked"]
    assert covered and all("covered by the ovn-trace of hop" in r for r in covered), covered


def test_a_port_unbound_for_real_fails_the_walk_while_ovn_trace_still_delivers_logically(dbs: OvnDbs) -> None:
    """The destination's binding removed: the walk fails at that port; ovn-trace runs the logical pipelines,
    not bindings, so it still delivers the packet, and the check agrees with a note saying why."""
    dbs.sbctl("lsp-unbind", PORT_B)
    try:
        result = verified(dbs, g.port_id(PORT_VM), g.port_id(PORT_B))
    finally:
        dbs.sbctl("lsp-bind", PORT_B, "chassis-2")
    assert result["verdict"] == "broken" and [p["code"] for p in result["problems"]] == ["port_unbound"]
    assert "bound on no chassis" in result["hops"][-1]["evidence"], result["hops"][-1]
    [check] = checked(result)
    assert check["state"] == "agree" and check["answer"] == f"is delivered to {PORT_B}", check
    assert any("not in ovn-trace's model" in note for note in check["notes"]), check


def test_a_security_group_without_the_icmp_rule_is_where_walk_and_ovn_trace_both_stop(dbs: OvnDbs) -> None:
    """Neutron's ICMP rule gone from the graph and a drop ACL in its place in the NB (ovn-trace reads the ACLs
    northd compiled, not Neutron's rules): the walk stops at the port's ingress, ovn-trace at ls_out_acl."""
    graph = graph_of(dbs)
    group = next(n for n in graph["nodes"] if n["id"] == g.secgroup_id(SG))
    group["attrs"]["rules"] = [r for r in group["attrs"].get("rules", []) if r.get("protocol") != "icmp"]
    drop = f"outport == @{PG} && icmp4"
    dbs.nbctl("--type=port-group", "acl-add", PG, "to-lport", "1003", drop, "drop")
    try:
        wait_until(lambda: traced_stops(dbs), timeout=20, what="northd dropping ICMP to the port")
        result = verify_result(asker(dbs), Topo(graph, {}), explain(graph, {}, g.port_id(PORT_B), g.port_id(PORT_VM)),
                               Probe("icmp"))  # fmt: skip
    finally:
        dbs.nbctl("--type=port-group", "acl-del", PG, "to-lport", "1003", drop)
    assert result["verdict"] == "broken" and "sg_no_ingress" in [p["code"] for p in result["problems"]]
    [check] = checked(result)
    assert check["state"] == "agree" and check["answer"].startswith("stops at ls_out_acl"), check
    # and without the drop ACL, the same walk (still without the rule) disagrees with OVN: it delivers
    wait_until(lambda: not traced_stops(dbs), timeout=20, what="ICMP delivered again")
    again = verify_result(asker(dbs), Topo(graph, {}), explain(graph, {}, g.port_id(PORT_B), g.port_id(PORT_VM)),
                          Probe("icmp"))  # fmt: skip
    [check] = checked(again)
    assert check["state"] == "disagree" and check["answer"] == f"is delivered to {PORT_VM}", check
    assert any(p["code"] == "tracer_disagrees" for p in again["problems"]), again["problems"]


def traced_stops(dbs: OvnDbs) -> bool:
    args = {"datapath": f"neutron-{NET}", "inport": PORT_B, "eth_src": MAC_B, "eth_dst": VM_MAC, "ip_src": "10.0.0.6",
            "ip_dst": "10.0.0.5", "ip_ttl": 64, "proto": "icmp", "icmp_type": 8, "ct": [["trk", "new"]]}  # fmt: skip
    return run_probe("ovn_trace", args, 20, ovn_sb_db=dbs.sb)["parsed"]["delivered_to"] is None
