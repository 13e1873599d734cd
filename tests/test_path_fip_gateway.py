"""A DVR host's floating IP agent gateway address (its fg- port, network:floatingip_agent_gateway), pure, on
the synthetic DVR cloud with its SNAT host (compute0000; the fg- port is compute0001's): resolved to the port
and walked `to-fip-gateway`, answered in that host's fip namespace on fg- (no filter rule drops it there).

From vm-1 (compute0001) with its floating IP the address is local to its own host's fip namespace: entered
by fpr-, answered there, never out by fg-. Without the floating IP it leaves by the snat namespace's qg- on
compute0000, br-ex, and comes in by compute0001's br-ex and fg-. From the outside: br-ex, br-int, fg-.
A project member learns of the address what it learns of an address nobody holds (the port belongs to no
project). The same rows on the real lab: tests/test_path_dvr_questions_lab.py.
"""

from __future__ import annotations

import pytest

from bench.synthetic import uid
from tests.diagnosis_clouds import COMPUTE, FG_PORT, FIP_NS, NETWORK_NODE, OUTSIDE, VM1_PORT, Cloud, JsonDict, walk
from tests.test_path_owned import SNAT_NS, answer_shape, dvr_with_snat
from topology.join import join
from topology.path import PathError, Topo
from topology.path_scope import Secrets, explain_for_project
from topology.scope import scope_graph

FG_IP, NOBODY = "192.168.50.2", "192.168.50.77"  # compute0001's fg- address; an external address nobody holds


def nodes(result: JsonDict) -> list[str]:
    return [h["node"] for h in result["hops"]]


def without_fip(cloud_reports: Cloud) -> Cloud:
    cloud, reports = cloud_reports
    cloud["floatingips"] = [f for f in cloud["floatingips"] if f["port_id"] != VM1_PORT]
    return cloud, reports


def assert_answered_on_fg(result: JsonDict) -> None:
    assert (result["verdict"], result["scenario"], result["problems"]) == ("ok", "to-fip-gateway", []), result
    assert result["dst"] == {"kind": "fipgw", "node": f"port:{FG_PORT}", "ip": FG_IP}, result["dst"]
    last = result["hops"][-1]
    assert last["node"] == f"netns:{COMPUTE}:{FIP_NS}" and "floating IP agent gateway port (fg-)" in last["what"]
    assert f"ip addr: {FG_IP}/16 on fg-{FG_PORT[:11]}" in last["evidence"], last
    assert "no INPUT rule drops it" in last["evidence"], last


def test_from_a_vm_with_a_floating_ip_its_own_hosts_fg_answers_in_the_fip_namespace() -> None:
    result = walk(dvr_with_snat(), "vm-1", FG_IP)
    assert_answered_on_fg(result)
    assert any(":fpr-" in n for n in nodes(result)), "entered by fpr- from the qrouter"
    assert not any(":fg-" in n or "br-ex" in n for n in nodes(result)), "a local address: never out by fg-"
    assert any("SNATs it to its floating IP" in h["what"] for h in result["hops"]), "SNATed as it leaves qrouter"


def test_from_a_vm_without_a_floating_ip_it_leaves_by_snat_and_comes_in_by_fg() -> None:
    result = walk(without_fip(dvr_with_snat()), "vm-1", FG_IP)
    assert_answered_on_fg(result)
    at = nodes(result)
    snat_qg = next(i for i, n in enumerate(at) if n.startswith(f"iface:{NETWORK_NODE}:{SNAT_NS}:qg-"))
    fg = next(i for i, n in enumerate(at) if n.startswith(f"iface:{COMPUTE}:{FIP_NS}:fg-"))
    assert snat_qg < at.index(f"bridge:{NETWORK_NODE}:br-ex") < at.index(f"bridge:{COMPUTE}:br-ex") < fg, at


def test_from_outside_fg_answers_by_br_ex_and_br_int() -> None:
    result = walk(dvr_with_snat(), OUTSIDE, FG_IP)
    assert_answered_on_fg(result)
    at = nodes(result)
    assert at.index(f"bridge:{COMPUTE}:br-ex") < at.index(f"bridge:{COMPUTE}:br-int") < len(at) - 2, at
    assert not any("DNAT" in h["what"] + h["evidence"] for h in result["hops"]), "its own address: not NATed"


def test_asked_by_the_port_id_it_is_the_same_walk() -> None:
    assert walk(dvr_with_snat(), OUTSIDE, f"port:{FG_PORT}")["hops"] == walk(dvr_with_snat(), OUTSIDE, FG_IP)["hops"]


def test_a_fip_namespace_without_its_fg_device_is_broken() -> None:
    cloud, reports = dvr_with_snat()
    fip = next(n for n in reports[COMPUTE]["namespaces"] if n["name"] == FIP_NS)
    fip["interfaces"] = [i for i in fip["interfaces"] if not i["name"].startswith("fg-")]
    result = walk((cloud, reports), OUTSIDE, FG_IP)
    assert (result["verdict"], [p["code"] for p in result["problems"]]) == ("broken", ["no_fg_port"]), result
    assert f"no fg-{FG_PORT[:11]} in the fip namespace on {COMPUTE}" in result["problems"][0]["message"]


def test_a_filter_rule_that_drops_it_in_the_fip_namespace_is_named() -> None:
    cloud, reports = dvr_with_snat()
    fip = next(n for n in reports[COMPUTE]["namespaces"] if n["name"] == FIP_NS)
    rule = f"-A INPUT -d {FG_IP}/32 -p icmp -j DROP"
    fip["iptables"] = {"filter": f"*filter\n[3:252] {rule}\nCOMMIT\n"}
    result = walk((cloud, reports), OUTSIDE, FG_IP)
    assert (result["verdict"], [p["code"] for p in result["problems"]]) == ("broken", ["fip_gateway_filtered"])
    assert rule in result["problems"][0]["message"]
    assert walk((cloud, reports), OUTSIDE, FG_IP, "tcp:22")["verdict"] == "ok", "the rule drops ICMP only"


# --------------------------------------------------------------------------- tenant scoping


def member_answer(project: str, src: str, dst: str) -> JsonDict | str:
    """What a member of ``project`` gets: the answer, or the refusal's text (the asked address blanked)."""
    cloud, reports = without_fip(dvr_with_snat())
    graph = join(cloud, reports).to_dict()
    visible = scope_graph(graph, "full", project)
    secrets = Secrets.of(graph["nodes"], {n["id"] for n in visible["nodes"]})
    try:
        return explain_for_project(Topo(graph, reports), visible, secrets, src, dst)
    except PathError as refused:
        return str(refused).replace(dst, "<asked>").replace("<hidden>", "<asked>")


def vm_project() -> str:
    cloud, _ = dvr_with_snat()
    return str(next(p["project_id"] for p in cloud["ports"] if p["id"] == VM1_PORT))


@pytest.mark.parametrize("who", ["the VM's project", "another project"])
def test_a_member_learns_of_the_fg_address_what_it_learns_of_an_unknown_one(who: str) -> None:
    """The fg- port is nobody's (project_id ""): neither the VM's project (demo) nor another (alt) sees it."""
    project = vm_project() if who == "the VM's project" else uid("project", "alt")
    for src in ([f"port:{VM1_PORT}"] if who == "the VM's project" else []) + [OUTSIDE]:
        fg, nobody = member_answer(project, src, FG_IP), member_answer(project, src, NOBODY)
        if isinstance(fg, dict):
            assert fg["dst"]["kind"] == "outside", fg["dst"]
            assert answer_shape(fg, FG_IP) == answer_shape(nobody if isinstance(nobody, dict) else {}, NOBODY)
        else:
            assert fg == nobody, (src, fg, nobody)
        assert FG_PORT not in repr(fg) and "fg-" not in repr(fg) and "fipgw" not in repr(fg), fg
