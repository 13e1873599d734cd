"""br-ex's way to the outside when two hosts' br-ex are joined by a veth (the lab's lab-ex1/lab-ex2): each
agent reports its end's ifindex and, its peer being in a namespace the host does not name, the peer's
(``peer_ifindex``); the explainer pairs them. A wire is the way out only when the far br-ex has a port to the
outside of its own: host 1's br-ex without its NIC, the wire to compute2's leads nowhere out (pure: the
synthetic DVR cloud of tests/diagnosis_clouds.py, vm-1's floating IP out of compute0001's fip namespace)."""

from __future__ import annotations

from typing import Any

from bench.synthetic import iface, ovs_iface
from tests.diagnosis_clouds import COMPUTE, NETWORK_NODE, OUTSIDE, Cloud, dvr, walk

JsonDict = dict[str, Any]


def br_ex(report: JsonDict) -> JsonDict:
    return next(b for b in report["ovs"]["bridges"] if b["name"] == "br-ex")


def nics(report: JsonDict) -> list[str]:
    return [p["name"] for p in br_ex(report)["ports"] if p["interfaces"][0].get("type") != "patch"]


def plug_wire(report: JsonDict, name: str, ifindex: int, peer_ifindex: int) -> None:
    wire = iface(name, "veth")
    wire.update(ifindex=ifindex, peer_ifindex=peer_ifindex)
    report["interfaces"].append(wire)
    br_ex(report)["ports"].append({"name": name, "tag": None, "interfaces": [ovs_iface(name)]})


def unplug(report: JsonDict, name: str) -> None:
    br_ex(report)["ports"] = [p for p in br_ex(report)["ports"] if p["name"] != name]


def wired(compute_nic_too: bool = False, network_node_nic: bool = True, far_ifindex: int = 40) -> Cloud:
    """compute0001's br-ex reaches the outside by a wire to the network node's br-ex (lab-ex2 <-> lab-ex1)."""
    cloud, reports = dvr()
    compute, network_node = reports[COMPUTE], reports[NETWORK_NODE]
    if not compute_nic_too:
        for nic in nics(compute):
            unplug(compute, nic)
    if not network_node_nic:
        for nic in nics(network_node):
            unplug(network_node, nic)
    plug_wire(compute, "lab-ex2", 5, 40)
    plug_wire(network_node, "lab-ex1", far_ifindex, 5)
    return cloud, reports


def exit_of(result: JsonDict) -> list[str]:
    return [h["node"] for h in result["hops"] if "leaves br-ex on" in h["what"]]


def failed(result: JsonDict) -> list[str]:
    return [h["node"] for h in result["hops"] if h["status"] == "fail"]


def test_a_wire_to_a_br_ex_with_a_nic_is_the_way_out() -> None:
    result = walk(wired(), "vm-1", OUTSIDE)
    assert result["verdict"] == "ok", result["problems"]
    assert exit_of(result) == [f"iface:{COMPUTE}:-:lab-ex2"]


def test_a_wire_to_a_br_ex_without_a_nic_leads_nowhere_out() -> None:
    result = walk(wired(network_node_nic=False), "vm-1", OUTSIDE)
    assert result["verdict"] == "broken", result
    assert "br_ex_no_physical_port" in [p["code"] for p in result["problems"]]
    assert failed(result) == [f"bridge:{COMPUTE}:br-ex"]
    inbound = walk(wired(network_node_nic=False), OUTSIDE, "fip:vm-1")
    assert inbound["verdict"] == "broken" and failed(inbound)[0] == f"bridge:{COMPUTE}:br-ex", inbound["hops"]


def test_a_nic_of_its_own_comes_before_a_wire() -> None:
    result = walk(wired(compute_nic_too=True, network_node_nic=False), "vm-1", OUTSIDE)
    assert result["verdict"] == "ok", result["problems"]
    assert exit_of(result) and exit_of(result) != [f"iface:{COMPUTE}:-:lab-ex2"], exit_of(result)


def test_a_veth_whose_far_end_no_report_names_is_taken_for_a_nic() -> None:
    """No other report names its peer (the ifindexes do not pair): nothing says it is a wire, as before."""
    result = walk(wired(network_node_nic=False, far_ifindex=41), "vm-1", OUTSIDE)
    assert result["verdict"] == "ok", result["problems"]
    assert exit_of(result) == [f"iface:{COMPUTE}:-:lab-ex2"]


def test_the_tracer_flooding_only_to_such_a_wire_agrees_that_it_stops_there() -> None:
    """br-ex floods an unlearned MAC to every port: with no way out, to the wire only. That is the stop the
    explainer names; any other port it left by would not be."""
    from tests.test_verify_plan import planned
    from topology.probes.compare import compare
    from topology.probes.plan import Check

    result, checks = planned(wired(network_node_nic=False), "vm-1", OUTSIDE)
    (at,) = [i for i, h in enumerate(result["hops"]) if h["status"] == "fail"]
    check = checks[at]
    assert isinstance(check, Check) and check.expect.stops and check.expect.dead_ends == ("lab-ex2",), check
    assert "lab-ex2: a wire to a br-ex with no way out" in check.expect.describe()

    def traced(port: str) -> JsonDict:
        outputs = [{"dp_port": 3, "bridge": "br-ex", "port": port, "ofport": 2}]
        return {"ok": True, "parsed": {"outputs": outputs, "tunnels": [], "dropped": False}}

    assert compare(check, traced("lab-ex2"))["state"] == "agree"
    assert compare(check, traced("eth9"))["state"] == "disagree"
