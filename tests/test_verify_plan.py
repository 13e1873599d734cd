"""The verifier's pure parts: the packet each hop is probed with, built from the walk alone, and the
comparison of a tracer's answer (real outputs captured from the lab, tests/data/probes/) with the model.

The walks are the synthetic legacy cloud's (tests/diagnosis_clouds.py: vm-1 on compute0001, its
router on the network node compute0000, the tunnel between them). No lab, no database.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.diagnosis_clouds import (
    COMPUTE,
    OUTSIDE,
    VM1_PORT,
    Cloud,
    dhcp_agent_dead,
    dvr,
    fg_gone,
    fip_address,
    legacy,
    mapping_dropped,
    ovs_agent_dead,
    physnet_renamed,
    port,
    qg_gone,
    qrouter_gone,
    tunnel_ports_gone,
    vm1_port_down,
    vm1_qvo_untagged,
    walk,
)
from topology.agent import probe_parse
from topology.agent.probes import ProbeInvalid, validate_neigh_show
from topology.join import join
from topology.path import PathError, Probe, Topo
from topology.probes import verify
from topology.probes.compare import compare
from topology.probes.plan import Check, Expect, Neighbour, NotChecked, plan
from topology.probes.request import ProbeTimeout
from topology.probes.verify import Asker, verify_result

DATA = Path(__file__).parent / "data" / "probes"


def planned(cloud: Cloud, src: str, dst: str, probe: str = "icmp") -> tuple[dict[str, Any], list[Any]]:
    result = walk(cloud, src, dst)
    topo = Topo(join(*cloud).to_dict(), cloud[1])
    return result, plan(topo, result["hops"], result["src"]["ip"], result["dst"]["ip"], Probe.parse(probe))


def at(result: dict[str, Any], checks: list[Any], node_suffix: str, nth: int = 0) -> Any:
    found = [c for h, c in zip(result["hops"], checks, strict=True) if h["node"].endswith(node_suffix)]
    return found[nth]


def test_every_field_of_the_packet_comes_from_the_walk() -> None:
    cloud = legacy()
    vm1 = port(cloud[0], VM1_PORT)
    result, checks = planned(cloud, "vm-1", OUTSIDE)
    assert len(checks) == len(result["hops"])
    # the network node's br-tun takes it in by the tunnel port: VNI, the VM's MAC, the router's qr- MAC
    tun = at(result, checks, "compute0000:br-tun")
    assert isinstance(tun, Check) and tun.kind == "ofproto_trace"
    assert tun.args["tun_id"] == 100 and tun.args["dl_src"] == vm1["mac_address"]
    # the compute host's br-int hands it to the tunnel: leaves by br-tun's tunnel port with the network's VNI,
    # addressed to the port the walk delivers it to on the other host
    first = at(result, checks, "compute0001:br-int")
    assert isinstance(first, Check) and first.expect.bridge == "br-tun" and first.expect.tun_id == 100
    tunnel_ports = [h["node"] for h in result["hops"] if h["node"].startswith("iface:compute0001:-:")]
    assert first.expect.port and any(n.endswith(f":{first.expect.port}") for n in tunnel_ports), tunnel_ports
    assert first.args["dl_src"] == vm1["mac_address"] and first.args["dl_dst"] == tun.args["dl_dst"]
    assert tun.args["nw_src"] == vm1["fixed_ips"][0]["ip_address"] and tun.args["nw_dst"] == OUTSIDE
    assert tun.expect.port and tun.expect.port.startswith("tap") and tun.expect.bridge == "br-int"
    # the qrouter: routed from qr- toward the outside, out of qg-; the source is SNATed only after routing
    qrouter = next(c for c in checks if isinstance(c, Check) and c.kind == "route_get")
    assert qrouter.args["iif"].startswith("qr-") and qrouter.expect.dev and qrouter.expect.dev.startswith("qg-")
    assert qrouter.args["src"] == vm1["fixed_ips"][0]["ip_address"] and qrouter.args["dst"] == OUTSIDE
    # after SNAT (the rule the walk cites), to the outside peer whose MAC only the router's ARP table knows
    # the network node's br-int twice: first in from br-tun (its patch port) with the VM's packet, out to
    # the router's qr- tap; then, after SNAT, from qg- to br-ex
    came_in = at(result, checks, "compute0000:br-int", 0)
    assert isinstance(came_in, Check) and came_in.args["nw_src"] == vm1["fixed_ips"][0]["ip_address"]
    assert came_in.args["dl_dst"] == tun.args["dl_dst"] and came_in.expect == tun.expect
    out = at(result, checks, "compute0000:br-int", 1)
    assert isinstance(out, Check) and out.args["nw_src"] == fip_address(cloud[0], VM1_PORT)
    assert "dl_dst" not in out.args and out.macs["dl_dst"].ip == OUTSIDE
    assert out.macs["dl_dst"].dev == qrouter.expect.dev and out.expect == Expect(port="eth1", bridge="br-ex")
    br_ex = at(result, checks, "compute0000:br-ex")
    assert isinstance(br_ex, Check) and br_ex.args["in_port"] == 1 and isinstance(br_ex.args["dl_vlan"], int)


def test_inbound_routing_sees_the_destination_after_dnat() -> None:
    cloud = legacy()
    vm1 = port(cloud[0], VM1_PORT)
    result, checks = planned(cloud, OUTSIDE, "fip:vm-1")
    qrouter = next(c for c in checks if isinstance(c, Check) and c.kind == "route_get")
    assert qrouter.args["iif"].startswith("qg-") and qrouter.expect.dev and qrouter.expect.dev.startswith("qr-")
    assert qrouter.args["dst"] == vm1["fixed_ips"][0]["ip_address"] and qrouter.args["src"] == OUTSIDE
    br_ex = at(result, checks, "compute0000:br-ex")
    assert isinstance(br_ex, Check) and br_ex.macs["dl_src"].ip == OUTSIDE  # the sender: the router's ARP entry
    assert br_ex.args["nw_dst"] == fip_address(cloud[0], VM1_PORT)  # not yet DNATed


def test_a_tcp_probe_is_traced_as_tcp() -> None:
    _, checks = planned(legacy(), "vm-1", OUTSIDE, "tcp:22")
    traced = [c for c in checks if isinstance(c, Check) and c.kind == "ofproto_trace"]
    assert traced and all(c.args["proto"] == "tcp" and c.args["tp_dst"] == 22 for c in traced)


def test_after_the_explainers_break_the_packet_is_expected_to_stop() -> None:
    cloud = legacy()
    vm1_port_down(*cloud)
    result, checks = planned(cloud, "vm-1", OUTSIDE)
    failed = next(i for i, h in enumerate(result["hops"]) if h["status"] == "fail")
    later = [c for c in checks[failed:] if isinstance(c, Check)]
    assert later, "the hops after the break are still probed"
    assert all(c.expect.stops and c.expect.stops.startswith(f"hop {failed + 1} fails") for c in later)
    # a router whose way out is gone: its route is expected to fail, not guessed
    cloud = legacy()
    qg_gone(*cloud)
    result, checks = planned(cloud, "vm-1", OUTSIDE)
    qrouter = next(c for c in checks if isinstance(c, Check) and c.kind == "route_get")
    assert qrouter.expect.stops and "fails" in qrouter.expect.stops


def trace(name: str, dpif: str = "dpif_show.txt") -> dict[str, Any]:
    parsed: Any = probe_parse.parse_trace((DATA / name).read_text())
    ports = probe_parse.parse_dpif_show((DATA / dpif).read_text())
    parsed["outputs"] = [probe_parse.name_output(o, ports) for o in parsed["outputs"]]
    return {"ok": True, "parsed": parsed, "output": (DATA / name).read_text()}


def check(expect: Expect, **args: Any) -> Check:
    return Check(0, "controller", "ofproto_trace", {"bridge": "br-int", "in_port": 3, **args}, expect)


def test_a_trace_agrees_only_with_the_port_it_leaves_by() -> None:
    answer = trace("trace_vm_vm.txt")
    assert compare(check(Expect(port="qvobbf532fb-e5", bridge="br-int")), answer)["state"] == "agree"
    other = compare(check(Expect(port="qvo00000000-00", bridge="br-int")), answer)
    assert other["state"] == "disagree" and other["answer"] == "leaves by qvobbf532fb-e5 (br-int)"
    assert other["model"] == "leaves by qvo00000000-00 on br-int"
    dropped = compare(check(Expect(port="qvobbf532fb-e5", bridge="br-int")), trace("trace_badport.txt"))
    assert dropped["state"] == "disagree" and dropped["answer"] == "dropped"
    assert compare(check(Expect(stops="hop 3 fails: ...")), trace("trace_badport.txt"))["state"] == "agree"
    assert compare(check(Expect(stops="hop 3 fails: ...")), answer)["state"] == "disagree"


def test_a_flood_reaches_the_outside_and_the_bridges_own_ports() -> None:
    answer = trace("trace_flood.txt", "dpif_show_flood.txt")
    found = compare(check(Expect(port="ex-outside", bridge="br-ex"), dl_dst="02:00:00:00:00:09"), answer)
    assert found["detail"]["outputs"] == ["ex-outside (br-ex)"]  # LOCAL ports (the hosts' own) are no way on
    assert found["state"] == "agree"
    wrong = compare(check(Expect(port="tap4e651050-01", bridge="br-int"), dl_dst="02:00:00:00:00:09"), answer)
    assert wrong["state"] == "disagree"


def test_a_flood_copied_to_the_tunnel_agrees_with_the_tunnel_and_its_vni() -> None:
    """The dvr lab's SNAT from compute2, at "back on br-int" toward sg- whose MAC br-int has not learned: the
    walk's tunnel port is among the flood's outputs, with the network's VNI; another VNI disagrees."""
    answer = trace("trace_dvr_flood_tunnel.txt", "dpif_show_dvr_compute2.txt")
    every = probe_parse.dpif_ports((DATA / "dpif_show_dvr_compute2.txt").read_text())
    answer["parsed"]["tunnels"] = [probe_parse.name_tunnel(t, every) for t in answer["parsed"]["tunnels"]]
    args = {"dl_dst": "fa:16:3e:9b:7e:ac"}
    found = compare(check(Expect(port="vxlan-0a00010b", bridge="br-tun", tun_id=1), **args), answer)
    assert found["state"] == "agree" and found["answer"].startswith("is flooded"), found
    assert found["detail"]["outputs"] == ["qvo386d06f5-21 (br-int)", "vxlan-0a00010b (br-tun)"]
    other_vni = compare(check(Expect(port="vxlan-0a00010b", bridge="br-tun", tun_id=2), **args), answer)
    assert other_vni["state"] == "disagree"
    elsewhere = compare(check(Expect(port="vxlan-0a00010c", bridge="br-tun", tun_id=1), **args), answer)
    assert elsewhere["state"] == "disagree"


def test_a_route_agrees_by_its_device_and_no_route_is_a_stop() -> None:
    route = Check(0, "h", "route_get", {"namespace": "qrouter-x", "dst": OUTSIDE}, Expect(dev="qg-1"))
    parsed = probe_parse.parse_route_get((DATA / "route_get_qg.txt").read_text())
    answer = compare(Check(0, "h", "route_get", {}, Expect(dev=str(parsed["dev"]))), {"ok": True, "parsed": parsed})
    assert answer["state"] == "agree" and answer["detail"]["route"]["dev"] == parsed["dev"]
    assert compare(route, {"ok": True, "parsed": parsed})["state"] == "disagree"
    refused = {"ok": False, "error": "RTNETLINK answers: Network is unreachable"}
    assert compare(route, refused)["state"] == "disagree"
    stop = Check(0, "h", "route_get", {}, Expect(stops="hop 9 fails: no qg-"))
    assert compare(stop, refused)["state"] == "agree"


def test_the_neighbour_probe_parses_the_routers_arp_entry() -> None:
    entries = probe_parse.parse_neighbours((DATA / "neigh_show.txt").read_text())
    assert entries[0]["dst"] == "192.168.1.1" and entries[0]["lladdr"] and entries[0]["state"] == "REACHABLE"
    assert probe_parse.parse_neighbours("10.0.0.9 dev qr-1 FAILED\n")[0]["lladdr"] is None
    with pytest.raises(ProbeInvalid):
        validate_neigh_show({"dst": "192.168.1.1", "dev": "qg-1;reboot"})


def test_a_hop_whose_probe_is_hostile_is_refused_before_any_agent() -> None:
    """A probe past the explainer's own check (Probe.parse refuses tcp:70000 with the path's 400) is
    refused again by the report check on the trace's tp_dst: the probe's port never reaches an agent."""
    with pytest.raises(PathError, match="70000"):
        Probe.parse("tcp:70000")
    cloud = legacy()
    result = walk(cloud, "vm-1", OUTSIDE)
    sent: list[tuple[str, str]] = []

    def channel(host: str, kind: str, args: dict[str, Any], timeout: float) -> dict[str, Any]:
        sent.append((host, kind))  # stands for the agent channel (only route probes may get here)
        return {"ok": False, "error": "not asked in this test"}

    topo = Topo(join(*cloud).to_dict(), cloud[1])
    asker = Asker(reports=cloud[1].get, run=channel, connected=lambda host: True)
    verified = verify_result(asker, topo, result, Probe("tcp", 70000))  # as if made past parse
    traces = [h["verify"] for h in verified["hops"] if h["verify"].get("tracer") == "ofproto/trace"]
    refused = [c for c in traces if c["state"] == "not_checked" and "refused before the agent" in c["reason"]]
    assert refused and all("tp_dst" in c["reason"] for c in refused)
    assert all(kind in ("route_get", "neigh_show") for _, kind in sent), sent


def test_a_host_without_its_agent_is_not_asked() -> None:
    cloud = legacy()
    result = walk(cloud, "vm-1", OUTSIDE)

    def channel(host: str, kind: str, args: dict[str, Any], timeout: float) -> dict[str, Any]:
        raise AssertionError("a probe was sent to a host whose agent is not connected")

    asker = Asker(reports=cloud[1].get, run=channel, connected=lambda host: False)
    verified = verify_result(asker, Topo(join(*cloud).to_dict(), cloud[1]), result, Probe.parse("icmp"))
    assert verified["verify"]["probes_sent"] == 0 and verified["verify"]["agree"] == 0
    assert set(verified["verify"]["hosts"].values()) == {
        f"the agent of host {h} is not connected" for h in verified["verify"]["hosts"]
    }
    assert Neighbour("a", "b", "c", "d").args() == {"namespace": "b", "dst": "d", "dev": "c"}


BREAKS = (
    None,
    vm1_port_down,
    vm1_qvo_untagged,
    ovs_agent_dead,
    dhcp_agent_dead,
    qrouter_gone,
    qg_gone,
    fg_gone,
    physnet_renamed,
    mapping_dropped,
    tunnel_ports_gone(COMPUTE),
)
ENDS = (("vm-1", OUTSIDE), (OUTSIDE, "fip:vm-1"), ("vm-1", "vm-0"), ("vm-0", "vm-1"), ("vm-1", "fip:vm-0"))


@pytest.mark.parametrize("build", [legacy, dvr], ids=["legacy", "dvr"])
def test_every_walk_of_every_broken_state_gets_a_plan_for_each_hop(build: Callable[[], Cloud]) -> None:
    """Each hop has its probe or its reason, healthy or broken, legacy or DVR, the way back too."""
    kinds: set[str] = set()
    for brk in BREAKS:
        if brk is fg_gone and build is legacy:
            continue  # a DVR break: the legacy cloud has no fip namespace
        cloud = build()
        if brk is not None:
            brk(*cloud)
        topo = Topo(join(*cloud).to_dict(), cloud[1])
        for src, dst in ENDS:
            result = walk(cloud, src, dst)
            for hops, ends in (
                (result["hops"], (result["src"], result["dst"])),
                (result.get("return_hops", []), (result["dst"], result["src"])),
            ):
                checks = plan(topo, hops, ends[0]["ip"], ends[1]["ip"], Probe.parse("icmp"))
                assert [c.hop for c in checks] == list(range(len(hops)))
                for item in checks:
                    if isinstance(item, NotChecked):
                        assert item.reason, item
                    else:
                        kinds.add(item.kind)
                        assert item.host and (item.expect.port or item.expect.dev or item.expect.stops), item
                        assert item.args["nw_src"] if item.kind == "ofproto_trace" else item.args["dst"]
    assert kinds == {"ofproto_trace", "route_get"}


def test_a_host_that_does_not_answer_is_waited_for_once() -> None:
    """The channel stand-in times out like a wedged agent (test_probes_lab.py makes one for real, per probe)."""
    cloud = legacy()
    result = walk(cloud, "vm-1", OUTSIDE)
    asked: list[str] = []

    def wedged(host: str, kind: str, args: dict[str, Any], timeout: float) -> dict[str, Any]:
        asked.append(host)
        raise ProbeTimeout(f"no answer from {host}'s agent within {timeout + 5:g} s")

    verify.WORKERS = 1  # one at a time, so that the second probe to the host sees the first's timeout
    try:
        asker = Asker(reports=cloud[1].get, run=wedged, connected=lambda host: True)
        verified = verify_result(asker, Topo(join(*cloud).to_dict(), cloud[1]), result, Probe.parse("icmp"))
    finally:
        verify.WORKERS = 4
    # each host whose hops are probed (the compute host's br-int to the tunnel, the network node's hops):
    # asked once, not per hop
    assert sorted(asked) == ["compute0000", "compute0001"], asked
    states = {h["verify"]["state"] for h in verified["hops"]}
    unanswered = [h for h in verified["hops"] if "did not answer" in h["verify"].get("reason", "")]
    assert states == {"not_checked"} and len(unanswered) >= 3, verified["hops"]


@pytest.mark.parametrize(("src", "dst"), [(OUTSIDE, "fip:vm-1"), ("vm-1", OUTSIDE)], ids=["fip-in", "fip-out"])
def test_on_dvr_every_router_namespace_and_bridge_hop_gets_a_probe(src: str, dst: str) -> None:
    """The fip namespace is walked between the devices it is entered and left by (in: fg- then fpr-, out: fpr-
    then fg-): ip route get has its iif and the device to expect from the hops beside it."""
    result, checks = planned(dvr(), src, dst)
    routes = {}
    for hop, check in zip(result["hops"], checks, strict=True):
        name = [*hop["node"].split(":"), "", ""][2]
        if hop["node"].startswith("netns:") and name.startswith(("qrouter-", "fip-")):
            assert isinstance(check, Check) and check.kind == "route_get", (hop, check)
            routes[name.split("-")[0]] = (str(check.args["iif"])[:3], str(check.expect.dev)[:3])
        if hop["node"].startswith("bridge:") and name.startswith("br-"):
            assert isinstance(check, Check), (hop, check)
    if src == OUTSIDE:
        assert routes == {"fip": ("fg-", "fpr"), "qrouter": ("rfp", "qr-")}, routes
    else:
        assert routes == {"qrouter": ("qr-", "rfp"), "fip": ("fpr", "fg-")}, routes
