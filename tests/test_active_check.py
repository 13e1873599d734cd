"""The active check's pure parts (topology/probes/active.py, topology/agent/counting.py): where the ping
is sent from, which counters are read, what moved. The agent is a function answering like one (the
real one is run by tests/test_active_check_lab.py); the walk is the synthetic legacy cloud's
(tests/diagnosis_clouds.py: vm-1 on compute0001, router-0 and the DHCP namespace on compute0000).
"""

from __future__ import annotations

from typing import Any

from tests.diagnosis_clouds import COMPUTE, NETWORK_NODE, OUTSIDE, VM1_PORT, legacy, walk
from topology.agent import probes
from topology.agent.counting import flow_key, parse
from topology.agent.probe_run import Run
from topology.join import join
from topology.path import Topo
from topology.probes.active import active_check, origin
from topology.probes.verify import Asker

INT_FLOW = (
    " cookie=0x1f2e, duration=83.720s, table=60, n_packets={n}, n_bytes=420, idle_age=3, priority=3,"
    "in_port=5 actions=NORMAL"
)
TUN_FLOW = " cookie=0x9, duration=9.1s, table=2, n_packets={n}, n_bytes=0, priority=1,dl_vlan=1 actions=output:2"


def test_a_flows_key_leaves_out_what_changes_without_the_flow_changing() -> None:
    one, two = (
        INT_FLOW.format(n=6),
        INT_FLOW.format(n=7).replace("83.720s", "99.1s").replace("idle_age=3", "idle_age=0"),
    )
    assert flow_key(one) == flow_key(two) == "table=60,priority=3,in_port=5 actions=NORMAL"
    dump = "OFPST_FLOW reply (OF1.4) (xid=0x6):\n" + one + "\n" + TUN_FLOW.format(n=2)
    assert parse("flow_counters", dump)["flows"] == [
        {"key": "table=60,priority=3,in_port=5 actions=NORMAL", "n_packets": 6, "cookie": 0x1F2E},
        {"key": "table=2,priority=1,dl_vlan=1 actions=output:2", "n_packets": 2, "cookie": 0x9},
    ]


def test_flow_counters_by_cookie_dump_once_per_cookie_and_refuse_what_is_not_a_cookie() -> None:
    ran: list[list[str]] = []

    def runner(argv: Any, timeout: float) -> Run:
        ran.append(list(argv))
        cookie = int(argv[-1].split("cookie=")[1].split("/")[0], 16)
        line = (
            f" cookie={cookie:#x}, duration=1.0s, table=8, n_packets={cookie % 7}, n_bytes=0, priority=50 actions=drop"
        )
        return Run(list(argv), 0, "OFPST_FLOW reply:\n" + line, "", False, False, 3)

    result = probes.run_probe("flow_counters", {"bridge": "br-int", "cookies": [0x5E7545FE, 0x7153044F, 0x5E7545FE]},
                              runner=runner)  # fmt: skip
    assert [argv[-1] for argv in ran] == ["cookie=0x5e7545fe/-1", "cookie=0x7153044f/-1"]
    assert [(f["cookie"], f["n_packets"]) for f in result["parsed"]["flows"]] == [
        (0x5E7545FE, 0x5E7545FE % 7),
        (0x7153044F, 0x7153044F % 7),
    ]
    for bad in ([], ["0x1"], [-1], [2**64], list(range(49)), "12"):
        refused = probes.run_probe("flow_counters", {"bridge": "br-int", "cookies": bad}, runner=runner)
        assert refused["invalid"] and "cookie" in refused["error"], (bad, refused)


def test_the_agent_sends_only_when_allowed_and_a_lost_reply_is_an_answer() -> None:
    args = {"namespace": "qdhcp-x", "dst": "192.168.0.1"}
    ran: list[list[str]] = []

    def runner(argv: Any, timeout: float) -> Run:
        ran.append(list(argv))
        return Run(list(argv), 1, "1 packets transmitted, 0 received, 100% packet loss", "")

    refused = probes.run_probe("ping", args, runner=runner)
    assert refused["refused"] is True and not ran
    lost = probes.run_probe("ping", args, runner=runner, allow_active=True)
    assert lost["ok"] is True and lost["parsed"]["answered"] is False
    assert ran == [["ip", "netns", "exec", "qdhcp-x", "ping", "-c", "1", "-W", "2", "-n", "-4", "192.168.0.1"]]
    for hostile in ({"namespace": "x; reboot", "dst": "192.168.0.1"}, {"namespace": "qdhcp-x", "dst": "8.8.8.8 -f"},
                    {"namespace": "qdhcp-x", "dst": "192.168.0.1", "count": 1000}):  # fmt: skip
        assert probes.run_probe("ping", hostile, runner=runner, allow_active=True)["invalid"] is True
    assert probes.run_probe("flow_counters", {"bridge": "br-int", "protocols": ["OpenFlow13; x"]})["invalid"]


class FakeAgents:
    """Answers like the agents would: each flow and the SNAT rule move by one when the ping is sent."""

    def __init__(self, answered: bool = True, frozen: frozenset[str] = frozenset()) -> None:
        self.sent = 0
        self.answered, self.frozen = answered, frozen
        self.asked: list[tuple[str, str, dict[str, Any]]] = []

    def __call__(self, host: str, kind: str, args: dict[str, Any], timeout: float) -> dict[str, Any]:
        self.asked.append((host, kind, args))
        if kind == "ping":
            self.sent += 1
            return {"ok": True, "parsed": {"answered": self.answered, "summary": "1 packets transmitted"}}
        if kind == "flow_counters":
            moving = args["bridge"] not in self.frozen
            lines = [f.format(n=5 + (self.sent if moving else 0)) for f in (INT_FLOW, TUN_FLOW)]
            return {"ok": True, "parsed": parse("flow_counters", "\n".join(lines))}
        if args["table"] == "filter":  # a port's firewall chain: its fallback (drop) rule counts the packet
            rows = [{"num": 1, "packets": 3, "target": "RETURN", "prot": "all", "source": "0.0.0.0/0",
                     "destination": "0.0.0.0/0", "extra": "state RELATED,ESTABLISHED"},
                    {"num": 2, "packets": 7 + self.sent, "target": "neutron-openvswi-sg-fallback", "prot": "all",
                     "source": "0.0.0.0/0", "destination": "0.0.0.0/0", "extra": ""}]  # fmt: skip
            return {"ok": True, "parsed": {"chains": {args["chain"]: rows}}}
        rows = [{"num": 1, "packets": 40 + self.sent, "target": "SNAT", "source": "10.0.0.11",
                 "destination": "0.0.0.0/0", "in": "*", "out": "*", "extra": "to:192.168.100.2"}]  # fmt: skip
        return {"ok": True, "parsed": {"chains": {"neutron-l3-agent-float-snat": rows}}}


def explained(agents: FakeAgents) -> tuple[Topo, dict[str, Any], Asker]:
    cloud, reports = legacy()
    result = walk((cloud, reports), "vm-1", OUTSIDE)
    for hop in result["hops"]:  # the flows a walk cites on br-int and br-tun, as the reports would give them
        if hop["node"] in (f"bridge:{COMPUTE}:br-int", f"bridge:{COMPUTE}:br-tun"):
            hop["flows"] = [(INT_FLOW if hop["node"].endswith("br-int") else TUN_FLOW).format(n=5)]
    topo = Topo(join(cloud, reports).to_dict(), reports)
    asker = Asker(reports=lambda host: reports.get(host), run=agents, connected=lambda host: True)
    return topo, result, asker


def test_without_a_vm_namespace_it_sends_from_the_networks_dhcp_namespace_and_says_what_is_not_exercised() -> None:
    topo, result, asker = explained(FakeAgents())
    start = origin(topo, result, asker.reports)
    assert not isinstance(start, str)
    assert (start.host, start.namespace.startswith("qdhcp-")) == (NETWORK_NODE, True)
    assert "are not exercised" in start.said


def test_a_namespace_holding_the_ports_mac_and_address_is_the_vm_itself() -> None:
    topo, result, asker = explained(FakeAgents())
    attrs = topo.attrs(f"port:{VM1_PORT}")
    report = asker.reports(COMPUTE)
    assert isinstance(report, dict)
    report.setdefault("namespaces", []).append(
        {"name": "vm-1", "interfaces": [{"name": "eth0", "mac": attrs["mac_address"], "addresses": ["10.0.0.11/24"]}]}
    )
    start = origin(topo, result, asker.reports)
    assert not isinstance(start, str) and (start.host, start.namespace) == (COMPUTE, "vm-1")


def test_the_counters_the_hops_cite_are_read_around_one_ping_and_each_hop_says_what_moved() -> None:
    agents = FakeAgents(frozen=frozenset({"br-tun"}))
    topo, result, asker = explained(agents)
    checked = active_check(asker, topo, result)
    kinds = [kind for _, kind, _ in agents.asked]
    ping = kinds.index("ping")
    assert kinds.count("ping") == 1 and {"flow_counters", "iptables_counters"} <= set(kinds[:ping]) & set(kinds[ping:])
    by_node = {h["node"]: h.get("active") for h in checked["hops"]}
    assert by_node[f"bridge:{COMPUTE}:br-int"]["moved"] == [
        {"counter": "table=60,priority=3,in_port=5 actions=NORMAL", "by": 1}
    ]
    assert by_node[f"bridge:{COMPUTE}:br-tun"]["still"][0]["by"] == 0  # frozen: the packet did not meet it
    snat = next(h["active"] for h in checked["hops"] if h["node"].startswith(f"netns:{NETWORK_NODE}:qrouter-"))
    assert snat["moved"] == [{"counter": "neutron-l3-agent-float-snat SNAT to:192.168.100.2", "by": 1}]
    qbr = next(h["active"] for h in checked["hops"] if h["node"].startswith(f"bridge:{COMPUTE}:qbr"))
    port = VM1_PORT[:10]
    assert qbr["moved"] == [
        {"counter": f"neutron-openvswi-i{port} neutron-openvswi-sg-fallback all 0.0.0.0/0 -> 0.0.0.0/0", "by": 1},
        {"counter": f"neutron-openvswi-o{port} neutron-openvswi-sg-fallback all 0.0.0.0/0 -> 0.0.0.0/0", "by": 1},
    ], qbr  # only the rules that moved: the RETURN rule that stood still is not listed
    summary = checked["active"]
    assert (summary["answered"], summary["hops_moved"], summary["hops_still"]) == (True, 3, 1)
    assert summary["to"] == OUTSIDE and summary["from"]["namespace"].startswith("qdhcp-")


def test_a_source_that_is_not_a_port_is_refused_with_the_reason() -> None:
    agents = FakeAgents()
    topo, result, asker = explained(agents)
    result["src"] = {"kind": "outside", "node": "", "ip": OUTSIDE}
    assert active_check(asker, topo, result) == {
        "error": "an active check sends from a VM's port: ask from a VM or a port"
    }
    assert agents.asked == []
