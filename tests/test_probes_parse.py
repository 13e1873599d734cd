"""The probes' pure parts: parsers on real outputs captured from the lab (tests/data/probes/), the
typed validation, the argv built from it, and the bounded runner on real processes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from topology.agent import probe_parse as parse
from topology.agent.probes import MAX_OUTPUT_BYTES, ProbeInvalid, argv_of, run_bounded, run_probe, validate
from topology.probes.validate import validate_for_host

DATA = Path(__file__).parent / "data" / "probes"
QROUTER = "qrouter-f7223a3c-6f4f-4868-aac0-745629869b56"


def text(name: str) -> str:
    return (DATA / name).read_text()


def test_a_trace_between_two_vms_on_br_int_leaves_by_one_datapath_port() -> None:
    trace = parse.parse_trace(text("trace_vm_vm.txt"))
    assert trace["bridges"] == ["br-int"]
    assert trace["datapath_actions"] == "6"
    assert trace["outputs"] == [{"dp_port": 6}]
    assert trace["megaflow"] is not None and trace["megaflow"].startswith("recirc_id=0,eth,ip,in_port=3")
    assert not trace["dropped"] and not trace["conntrack"]


def test_the_datapath_port_is_named_by_dpif_show() -> None:
    ports = parse.parse_dpif_show(text("dpif_show.txt"))
    named = [parse.name_output(out, ports) for out in parse.parse_trace(text("trace_vm_vm.txt"))["outputs"]]
    assert named == [{"dp_port": 6, "bridge": "br-int", "port": "qvobbf532fb-e5", "ofport": 4}]
    # patch ports have no datapath port: not in the map
    assert all(entry["port"] not in ("patch-tun", "int-br-ex") for entry in ports.values())
    assert ports[4] == {"dp_port": 4, "bridge": "br-ex", "port": "ex-outside", "ofport": 2}


def test_a_trace_through_the_patch_port_crosses_br_ex_and_leaves_by_its_physical_port() -> None:
    trace = parse.parse_trace(text("trace_ext.txt"))
    assert trace["bridges"] == ["br-int", "br-ex"]
    ports = parse.parse_dpif_show(text("dpif_show.txt"))
    assert [parse.name_output(o, ports)["port"] for o in trace["outputs"]] == ["ex-outside"]


def test_a_dropped_packet_says_so() -> None:
    for name in ("trace_badport.txt", "trace_bcast.txt"):
        trace = parse.parse_trace(text(name))
        assert trace["dropped"] and trace["outputs"] == [] and trace["actions"] == ["drop"]


def test_a_flood_that_copies_to_a_tunnel_leaves_by_the_tunnel_and_the_local_ports() -> None:
    """Captured on the dvr lab: compute2's br-int with its MAC table flushed, the qrouter's packet to sg- (an
    unlearned MAC) flooded; the copy to br-tun's tunnel is ``clone(tnl_push(...),3)``, then port 7 after it."""
    trace = parse.parse_trace(text("trace_dvr_flood_tunnel.txt"))
    ports = parse.parse_dpif_show(text("dpif_show_dvr_compute2.txt"))
    every = parse.dpif_ports(text("dpif_show_dvr_compute2.txt"))
    outputs = [parse.name_output(out, ports).get("port") for out in trace["outputs"]]
    assert outputs == ["br-int", "qvo386d06f5-21"]  # the bridge's own port (LOCAL) and the VM's qvo
    tunnels = [parse.name_tunnel(t, every) for t in trace["tunnels"]]
    assert [(t.get("port"), t.get("vni"), t.get("remote_ip")) for t in tunnels] == [("vxlan-0a00010b", 1, "10.0.1.11")]
    assert [parse.name_output(out, ports).get("port") for out in trace["underlay"]] == ["lab-tun2"]
    assert not trace["dropped"]
    # the same without clone (a tunnel push as the last action): what follows it is the underlay's
    plain = parse.parse_trace("Datapath actions: 7,tnl_push(tnl_port(9),header(vxlan(flags=0x8,vni=0x1))),3\n")
    assert [o["dp_port"] for o in plain["outputs"]] == [7] and [o["dp_port"] for o in plain["underlay"]] == [3]


def test_datapath_actions_split_outside_parentheses() -> None:
    actions = parse.split_actions("push_vlan(vid=1,pcp=0),2,pop_vlan,6")
    assert actions == ["push_vlan(vid=1,pcp=0)", "2", "pop_vlan", "6"]
    trace = parse.parse_trace("Datapath actions: ct(commit,zone=1,nat(src=1.2.3.4)),recirc(0x2)\n")
    assert trace["conntrack"] and trace["outputs"] == [] and not trace["dropped"]


def test_route_get_gives_the_device_the_source_and_no_gateway_on_link() -> None:
    assert parse.parse_route_get(text("route_get_qg.txt"))["dev"] == "qg-a44d4d7f-ea"
    route = parse.parse_route_get(text("route_get_qg.txt"))
    assert (route["dst"], route["via"], route["src"]) == ("192.168.1.1", None, "192.168.1.68")
    forwarded = parse.parse_route_get(text("route_get_iif.txt"))
    assert forwarded["dev"] == "qg-a44d4d7f-ea" and forwarded["iif"] == "qr-6d680e34-eb"
    assert forwarded["from"] == "10.0.0.127"
    assert parse.parse_route_get(text("route_get_local.txt"))["dev"] == "qr-6d680e34-eb"


def test_route_get_with_a_gateway_and_unreachable() -> None:
    via = parse.parse_route_get("8.8.8.8 via 192.168.1.1 dev qg-1 src 192.168.1.68 uid 0 \n    cache \n")
    assert (via["via"], via["dev"]) == ("192.168.1.1", "qg-1")
    assert parse.parse_route_get("unreachable 10.9.9.9 table 16 uid 0\n")["type"] == "unreachable"


def test_ip_rule_and_a_route_table() -> None:
    rules = parse.parse_ip_rule(text("ip_rule.txt"))
    assert [(r["priority"], r["table"]) for r in rules] == [(0, "local"), (32766, "main"), (32767, "default")]
    dvr = parse.parse_ip_rule("57481:\tfrom 10.0.0.1/24 lookup 16\n")
    assert dvr == [{"priority": 57481, "from": "10.0.0.1/24", "to": None, "table": "16", "action": "lookup"}]
    routes = parse.parse_routes(text("table_main.txt"))
    assert routes[0]["dst"] == "default" and routes[0]["via"] == "192.168.1.1" and routes[0]["dev"] == "qg-a44d4d7f-ea"
    assert [r["dst"] for r in routes[1:]] == ["10.0.0.0/24", "192.168.1.0/24"]


def test_validated_arguments_make_the_argv_and_nothing_else() -> None:
    args = validate(
        "ofproto_trace",
        {
            "bridge": "br-int",
            "in_port": 3,
            "dl_src": "FA:16:3E:C5:93:E6",
            "proto": "tcp",
            "nw_src": "10.0.0.127",
            "nw_dst": "10.0.0.84",
            "tp_dst": 22,
            "ct_next": ["trk", "new"],
        },
    )
    assert argv_of("ofproto_trace", args) == [
        "ovs-appctl",
        "ofproto/trace",
        "br-int",
        "in_port=3,tcp,dl_src=fa:16:3e:c5:93:e6,nw_src=10.0.0.127,nw_dst=10.0.0.84,tp_dst=22",
        "--ct-next",
        "trk,new",
    ]
    route = validate(
        "route_get", {"namespace": QROUTER, "dst": "192.168.1.1", "src": "10.0.0.127", "iif": "qr-6d680e34-eb"}
    )
    assert argv_of("route_get", route) == [
        "ip",
        "-netns",
        QROUTER,
        "route",
        "get",
        "192.168.1.1",
        "from",
        "10.0.0.127",
        "iif",
        "qr-6d680e34-eb",
    ]
    assert argv_of("route_table", validate("route_table", {"namespace": QROUTER, "table": "main"}))[-2:] == [
        "table",
        "254",
    ]


@pytest.mark.parametrize(
    ("kind", "args", "reason"),
    [
        ("shell", {}, "kind must be one of"),
        ("ofproto_trace", {"bridge": "br-int; reboot", "in_port": 1}, "bridge must be"),
        ("ofproto_trace", {"bridge": "-br-int", "in_port": 1}, "bridge must be"),
        ("ofproto_trace", {"bridge": "br-int", "in_port": 70000}, "in_port must be an integer"),
        ("ofproto_trace", {"bridge": "br-int", "in_port": True}, "in_port must be an integer"),
        ("ofproto_trace", {"bridge": "br-int", "in_port": 1, "dl_src": "fa:16:3e:00:00:01,actions=drop"}, "dl_src"),
        ("ofproto_trace", {"bridge": "br-int", "in_port": 1, "proto": "icmp", "tp_dst": 22}, "tp_dst needs"),
        ("ofproto_trace", {"bridge": "br-int", "in_port": 1, "nw_dst": "10.0.0.1"}, "need proto"),
        ("ofproto_trace", {"bridge": "br-int", "in_port": 1, "ct_next": ["trk", "$(id)"]}, "ct_next"),
        ("ofproto_trace", {"bridge": "br-int", "in_port": 1, "flow": "in_port=1"}, "unknown argument"),
        ("ofproto_trace", {"bridge": "b" * 65, "in_port": 1}, "bridge must be"),
        ("route_get", {"dst": "10.0.0.1 && id"}, "dst must be an IPv4 or IPv6"),
        ("route_get", {"dst": "10.0.0.1", "src": "fe80::1"}, "same address family"),
        ("route_get", {"namespace": "../../etc", "dst": "10.0.0.1"}, "namespace must be"),
        ("route_table", {"table": "main; id"}, "table must be"),
    ],
)
def test_hostile_or_wrong_arguments_are_refused_with_the_reason(kind: str, args: dict[str, Any], reason: str) -> None:
    with pytest.raises(ProbeInvalid, match=reason.replace("$", r"\$").replace("(", r"\(")):
        validate(kind, args)
    answer = run_probe(kind, args)  # the agent refuses it too, without running anything
    assert answer["ok"] is False and answer["invalid"] and "argv" not in answer


REPORT: dict[str, Any] = {
    "host": "node-a",
    "interfaces": [{"name": "eth0"}],
    "namespaces": [{"name": QROUTER, "interfaces": [{"name": "qr-6d680e34-eb"}, {"name": "qg-a44d4d7f-ea"}]}],
    "ovs": {
        "bridges": [
            {
                "name": "br-int",
                "ports": [{"name": "qvo643ed321-ba", "interfaces": [{"name": "qvo643ed321-ba", "ofport": 3}]}],
            }
        ]
    },
}


@pytest.mark.parametrize(
    ("kind", "args", "reason"),
    [
        ("ofproto_trace", {"bridge": "br-ex", "in_port": 1}, "bridge 'br-ex' is not in the host's last report"),
        ("ofproto_trace", {"bridge": "br-int", "in_port": 4}, "in_port 4 is not a port of bridge 'br-int'"),
        ("ofproto_trace", {"bridge": "br-int", "in_port": "qvoother"}, "in_port 'qvoother' is not a port"),
        ("route_get", {"namespace": "qrouter-other", "dst": "10.0.0.1"}, "namespace 'qrouter-other' is not in"),
        ("route_get", {"namespace": QROUTER, "dst": "10.0.0.1", "iif": "eth0"}, "iif 'eth0' is not an interface"),
        ("route_get", {"dst": "10.0.0.1", "iif": "qr-6d680e34-eb"}, "of the root namespace"),
    ],
)
def test_names_must_be_in_the_hosts_last_report(kind: str, args: dict[str, Any], reason: str) -> None:
    with pytest.raises(ProbeInvalid, match=reason):
        validate_for_host(kind, args, REPORT)


def test_names_the_host_reported_pass() -> None:
    assert validate_for_host("ofproto_trace", {"bridge": "br-int", "in_port": "qvo643ed321-ba"}, REPORT)
    assert validate_for_host("ofproto_trace", {"bridge": "br-int", "in_port": 3}, REPORT)["in_port"] == 3
    assert (
        validate_for_host("route_get", {"namespace": QROUTER, "dst": "192.168.1.1", "iif": "qr-6d680e34-eb"}, REPORT)[
            "iif"
        ]
        == "qr-6d680e34-eb"
    )


def test_a_command_that_hangs_is_killed_at_its_timeout() -> None:
    run = run_bounded(["sleep", "30"], 0.5)
    assert run.timed_out and run.exit_status is None and run.duration_ms < 30000


def test_an_endless_output_is_cut_at_the_limit() -> None:
    run = run_bounded(["yes"], 20, limit=4096)
    assert run.truncated and run.exit_status is None and len(run.output) == 4096
    assert MAX_OUTPUT_BYTES >= 64 * 1024  # ofproto/trace of a long pipeline still fits


def test_a_failed_command_keeps_its_message() -> None:
    answer = run_probe("route_get", {"namespace": "no-such-netns-for-the-test", "dst": "10.0.0.1"})
    assert answer["ok"] is False and "no-such-netns-for-the-test" in answer["error"]
