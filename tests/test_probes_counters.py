"""Tunnel outputs of ofproto/trace and the iptables counters probe (pure; outputs captured from the dvr lab,
tests/data/probes/): the trace leaving br-tun by its vxlan port is named with its VNI and compared with the
walk's tunnel port and network; the counters probe takes only a namespace the host reported, a table of a
fixed set and a plain chain name; the NAT rules a walk cites are found in its answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.diagnosis_clouds import OUTSIDE, VM1_PORT, dvr, fip_address, legacy, port, walk
from topology.agent import probe_parse as parse
from topology.agent.probes import ProbeInvalid, Run, argv_of, run_probe, validate
from topology.path.model import cited_iptables, nat_done
from topology.probes.compare import compare
from topology.probes.counters import NatRule, cited_nat_rules, packets_of, rule_of
from topology.probes.plan import Check, Expect
from topology.probes.validate import validate_for_host

DATA = Path(__file__).parent / "data" / "probes"
QROUTER = "qrouter-c385bcb9-0b71-4a1e-8f0e-8f9ad2a3d1f0"


def text(name: str) -> str:
    return (DATA / name).read_text()


def tunnel_trace() -> dict[str, Any]:
    trace = parse.parse_trace(text("trace_tunnel.txt"))
    every = parse.dpif_ports(text("dpif_show_dvr.txt"))
    trace["tunnels"] = [parse.name_tunnel(t, every) for t in trace["tunnels"]]
    return dict(trace)


def test_a_trace_by_a_tunnel_port_names_the_port_its_vni_and_the_underlay_apart() -> None:
    trace = tunnel_trace()
    assert trace["tunnels"] == [
        {
            "dp_port": 16,
            "vni": 0xC,
            "local_ip": "10.0.1.11",
            "remote_ip": "10.0.1.12",
            "bridge": "br-tun",
            "port": "vxlan-0a00010c",
            "ofport": 2,
        }
    ]
    assert trace["outputs"] == [] and trace["underlay"] == [{"dp_port": 4}]  # lab-tun1 on br-phy: the underlay
    assert not trace["dropped"]


def test_tunnel_ports_sharing_a_datapath_port_are_told_apart_by_the_remote_address() -> None:
    every = parse.dpif_ports(text("dpif_show_dvr.txt"))
    every.append({"dp_port": 16, "bridge": "br-tun", "port": "vxlan-0a00010d", "ofport": 3})
    named = parse.name_tunnel({"dp_port": 16, "vni": 12, "remote_ip": "10.0.1.13"}, every)
    assert named["port"] == "vxlan-0a00010d" and named["ofport"] == 3
    unknown = parse.name_tunnel({"dp_port": 16, "vni": 12}, every)  # no outer address: ambiguous, left unnamed
    assert "port" not in unknown


def check(port: str, tun_id: int | None) -> Check:
    args = {"bridge": "br-tun", "in_port": 1, "proto": "icmp", "nw_src": "10.0.2.1", "nw_dst": "10.0.2.82"}
    return Check(3, "controller", "ofproto_trace", args, Expect(port=port, bridge="br-tun", tun_id=tun_id))


def test_the_tunnel_port_and_the_vni_must_both_be_the_walks() -> None:
    result = {"ok": True, "parsed": tunnel_trace(), "output": text("trace_tunnel.txt")}
    agree = compare(check("vxlan-0a00010c", 12), result)
    assert agree["state"] == "agree", agree
    assert agree["answer"] == "leaves by vxlan-0a00010c (br-tun) with tun_id 0xc"
    assert agree["model"] == "leaves by vxlan-0a00010c on br-tun with tun_id 0xc"
    assert agree["detail"]["underlay"] == [{"dp_port": 4}]
    other_network = compare(check("vxlan-0a00010c", 11), result)
    assert other_network["state"] == "disagree" and "0xc" in other_network["answer"], other_network
    other_host = compare(check("vxlan-0a00010d", 12), result)
    assert other_host["state"] == "disagree", other_host


def test_iptables_counters_of_each_rule_by_chain() -> None:
    chains = parse.parse_iptables_counters(text("iptables_nat_qrouter.txt"))
    assert {"PREROUTING", "POSTROUTING", "neutron-l3-agent-PREROUTING", "neutron-l3-agent-float-snat"} <= set(chains)
    dnat = chains["neutron-l3-agent-PREROUTING"][1]
    assert dnat["num"] == 2 and dnat["target"] == "DNAT" and dnat["destination"] == "192.168.1.54"
    assert dnat["packets"] == 9 and dnat["bytes"] == 756 and dnat["extra"] == "to:10.0.0.133"
    assert dnat["in"] == "rfp-c385bcb9-0"
    counting = parse.parse_iptables_counters(
        "Chain X (1 references)\nnum pkts bytes target prot opt in out source destination\n"
        "1 5 420 0 -- * * 10.0.0.0/24 0.0.0.0/0\n"
    )
    assert counting["X"][0]["target"] == "" and counting["X"][0]["source"] == "10.0.0.0/24"  # no target: counts


def test_the_counters_probe_argv_is_made_of_validated_values_only() -> None:
    args = validate("iptables_counters", {"namespace": QROUTER, "table": "nat", "chain": "neutron-l3-agent-PREROUTING"})
    assert argv_of("iptables_counters", args) == [
        "ip",
        "netns",
        "exec",
        QROUTER,
        "iptables",
        "-w",
        "5",
        "-t",
        "nat",
        "-L",
        "neutron-l3-agent-PREROUTING",
        "-v",
        "-n",
        "-x",
        "--line-numbers",
    ]
    root = argv_of("iptables_counters", validate("iptables_counters", {"table": "filter"}))
    assert root == ["iptables", "-w", "5", "-t", "filter", "-L", "-v", "-n", "-x", "--line-numbers"]


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ({"table": "nat; rm -rf /"}, "table must be one of nat, filter, mangle, raw"),
        ({"table": "security"}, "table must be one of"),
        ({}, "table must be one of"),
        ({"table": "nat", "chain": "-F"}, "chain must be an iptables chain name"),
        ({"table": "nat", "chain": "X $(reboot)"}, "chain must be an iptables chain name"),
        ({"table": "nat", "chain": "a" * 29}, "chain must be an iptables chain name"),
        ({"table": "nat", "namespace": "../../etc"}, "namespace must be"),
        ({"table": "nat", "namespace": "-n"}, "namespace must be"),
        ({"table": "nat", "flush": True}, "unknown argument"),
        ({"table": "nat", "chain": ["PREROUTING"]}, "chain must be"),
    ],
)
def test_hostile_counters_arguments_are_refused(args: dict[str, Any], reason: str) -> None:
    with pytest.raises(ProbeInvalid, match=reason):
        validate("iptables_counters", args)
    ran: list[Any] = []

    def runner(argv: Any, timeout: float) -> Run:
        ran.append(argv)
        return Run(list(argv), 0, "", "")

    refused = run_probe("iptables_counters", args, runner=runner)
    assert refused["invalid"] and not ran  # the agent refuses too: nothing runs


def test_the_counters_namespace_must_be_in_the_hosts_last_report() -> None:
    report = {"interfaces": [], "namespaces": [{"name": QROUTER, "interfaces": []}], "ovs": {"bridges": []}}
    with pytest.raises(ProbeInvalid, match="namespace 'qrouter-other' is not in the host's last report"):
        validate_for_host("iptables_counters", {"namespace": "qrouter-other", "table": "nat"}, report)
    assert validate_for_host("iptables_counters", {"namespace": QROUTER, "table": "nat"}, report)["table"] == "nat"


def test_the_nat_rules_a_walk_cites_and_their_rows() -> None:
    inbound = cited_nat_rules(walk(legacy(), OUTSIDE, "fip:vm-1")["hops"])
    assert len(inbound) == 1 and inbound[0].target == "DNAT" and inbound[0].chain == "neutron-l3-agent-PREROUTING"
    assert inbound[0].probe() == {"namespace": inbound[0].namespace, "table": "nat", "chain": inbound[0].chain}
    outbound = cited_nat_rules(walk(legacy(), "vm-1", OUTSIDE)["hops"])
    assert [r.target for r in outbound] == ["SNAT"] and outbound[0].source == "10.0.0.11"
    answer = {"parsed": {"chains": parse.parse_iptables_counters(text("iptables_nat_qrouter.txt"))}}
    rule = NatRule(0, "controller", QROUTER, "neutron-l3-agent-PREROUTING", "DNAT", "10.0.0.133", None, "192.168.1.54")
    assert packets_of(rule, answer) == 9
    elsewhere = NatRule(0, "controller", QROUTER, "neutron-l3-agent-PREROUTING", "DNAT", "10.0.0.134")
    assert packets_of(elsewhere, answer) is None  # not the rule the walk cites: no counter


def test_on_dvr_the_fip_out_hops_rule_is_found_after_its_policy_rules() -> None:
    """DVR's fip-out hop cites its policy rules first ("ip rule: ...; iptables: ..."): its SNAT rule is still found."""
    hops = walk(dvr(), "vm-1", OUTSIDE)["hops"]
    snat = next(h for h in hops if "SNAT" in h["what"])
    assert snat["evidence"].startswith("ip rule: from ") and "; iptables: " in snat["evidence"], snat
    (rule,) = cited_nat_rules(hops)
    assert (rule.target, rule.chain, rule.namespace.split("-")[0]) == ("SNAT", "neutron-l3-agent-float-snat", "qrouter")
    assert rule.source == dvr_fixed_ip() and rule.to == dvr_fip()
    inbound = cited_nat_rules(walk(dvr(), OUTSIDE, "fip:vm-1")["hops"])
    assert [(r.target, r.destination, r.to) for r in inbound] == [("DNAT", dvr_fip(), dvr_fixed_ip())]


def test_cited_iptables_reads_the_part_wherever_it_is() -> None:
    assert cited_iptables("iptables: -A a -j SNAT --to-source 1.2.3.4 | -A b") == [
        "-A a -j SNAT --to-source 1.2.3.4",
        "-A b",
    ]
    assert cited_iptables("ip rule: from 1.1.1.1 lookup 16; from 2.2.2.2 lookup 3; iptables: -A c") == ["-A c"]
    assert cited_iptables("ip rule: from 1.1.1.1 lookup 16") == []
    assert cited_iptables("no iptables: here") == []  # only a part of its own counts


def dvr_fixed_ip() -> str:
    cloud, _ = dvr()
    return str(port(cloud, VM1_PORT)["fixed_ips"][0]["ip_address"])


def dvr_fip() -> str:
    cloud, _ = dvr()
    return fip_address(cloud, VM1_PORT)


def test_a_hop_is_a_nat_hop_by_its_verb_only() -> None:
    """DVR's "routes it by policy to the SNAT port" and "not SNATed" translate nothing (the verifier took the first
    for a NAT hop without a rule, and left the rest of the snat walk's hops not checked)."""
    assert nat_done("qrouter on compute2 routes it by policy to the SNAT port 10.0.0.215 of its subnet") == set()
    assert nat_done("delivered to the router itself: not SNATed, not forwarded out") == set()
    assert nat_done("the snat namespace SNATs it to the router's gateway IP") == {"SNAT"}
    assert nat_done("qrouter DNATs 192.168.1.5 to 10.0.0.5") == {"DNAT"}


def test_two_rows_of_one_translation_are_told_apart_by_their_interfaces() -> None:
    """Neutron's legacy router SNATs by qg- and SNATs DNATed packets, both to the gateway address: the row
    counted is the cited rule's own (found ambiguous on the netnode lab before)."""
    chains = parse.parse_iptables_counters(
        "Chain neutron-l3-agent-snat (1 references)\n"
        "num pkts bytes target prot opt in out source destination\n"
        "1 4 336 SNAT 0 -- * qg-7c4a1b2e-3f 0.0.0.0/0 0.0.0.0/0 to:192.168.1.131 random-fully\n"
        "2 0 0 SNAT 0 -- * * 0.0.0.0/0 0.0.0.0/0 mark match ! 0x2/0xffff ctstate DNAT to:192.168.1.131 random-fully\n"
    )
    answer = {"parsed": {"chains": chains}}
    by_qg = rule_of(
        13,
        "compute2",
        QROUTER,
        "-A neutron-l3-agent-snat -o qg-7c4a1b2e-3f -j SNAT --to-source 192.168.1.131 --random-fully",
    )
    assert by_qg is not None and by_qg.out_interface == "qg-7c4a1b2e-3f" and by_qg.in_interface == "*"
    assert packets_of(by_qg, answer) == 4
    dnated = rule_of(
        13,
        "compute2",
        QROUTER,
        "-A neutron-l3-agent-snat -m mark ! --mark 0x2/0xffff -m conntrack --ctstate DNAT"
        " -j SNAT --to-source 192.168.1.131",
    )
    assert dnated is not None and packets_of(dnated, answer) == 0
    negated = rule_of(0, "controller", QROUTER, "-A c ! -o qg-x -j SNAT --to-source 1.2.3.4")
    assert negated is not None and negated.out_interface == "!qg-x"
