"""The ``ovn_trace`` probe against real OVN: ovsdb-servers and ovn-northd of the test's own (lab/ovn_dbs.py).

The logical topology is Neutron's shape on ML2/OVN (made here with ovn-nbctl, as the OVN driver would):
two logical switches behind one logical router, three VM ports, then an ACL that drops ICMP to one
port. ovn-trace answers from the southbound's logical flows northd compiled; nothing is mocked. The
last test plays the agent's side of the probe channel with the real probe code, so the whole path
(POST /api/v1/hosts/<host>/probes/ -> channel -> ovn-trace -> answer) runs against real OVN.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync

from lab.ovn_dbs import OvnDbs, ovn_databases, wait_until
from topology.agent import ovn_trace
from topology.agent.probes import run_probe, validate

VM1, VM2, VM3 = ("fa:16:3e:00:00:01", "10.0.0.5"), ("fa:16:3e:00:00:02", "10.0.0.6"), ("fa:16:3e:00:00:03", "10.0.1.5")
LRP1_MAC = "fa:16:3e:00:01:01"
PING_VM2: dict[str, Any] = {
    "datapath": "ls1",
    "inport": "p1",
    "eth_src": VM1[0],
    "eth_dst": VM2[0],
    "ip_src": VM1[1],
    "ip_dst": VM2[1],
    "ip_ttl": 64,
    "proto": "icmp",
    "icmp_type": 8,
}


def logical_topology(dbs: OvnDbs) -> None:
    n = dbs.nbctl
    n("ls-add", "ls1")
    n("ls-add", "ls2")
    for switch, port, (mac, ip) in (("ls1", "p1", VM1), ("ls1", "p2", VM2), ("ls2", "p3", VM3)):
        n("lsp-add", switch, port)
        n("lsp-set-addresses", port, f"{mac} {ip}")
        n("lsp-set-port-security", port, f"{mac} {ip}")
    n("lr-add", "lr1")
    n("lrp-add", "lr1", "lrp1", LRP1_MAC, "10.0.0.1/24")
    n("lrp-add", "lr1", "lrp2", "fa:16:3e:00:01:02", "10.0.1.1/24")
    for switch, lrp, port in (("ls1", "lrp1", "rp1"), ("ls2", "lrp2", "rp2")):
        n("lsp-add", switch, port)
        n("lsp-set-type", port, "router")
        n("lsp-set-addresses", port, "router")
        n("lsp-set-options", port, f"router-port={lrp}")


def dp(dbs: OvnDbs, name: str) -> str:
    """The NB uuid of a logical switch or router: how ovn-trace names a datapath with --no-friendly-names
    (which the probe uses so that a UUID-named port is never abbreviated to a prefix)."""
    found = dbs.nbctl("--bare", "--columns=_uuid", "find", "Logical_Switch", f"name={name}")
    return found or dbs.nbctl("--bare", "--columns=_uuid", "find", "Logical_Router", f"name={name}")


def traced(dbs: OvnDbs, args: dict[str, Any]) -> dict[str, Any]:
    return run_probe("ovn_trace", args, timeout=20, ovn_sb_db=dbs.sb)


@pytest.fixture(scope="module")
def dbs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OvnDbs]:
    with ovn_databases(tmp_path_factory.mktemp("ovn")) as started:
        logical_topology(started)
        # northd has compiled both switches' and the router's pipelines when their datapaths are bound
        wait_until(lambda: started.sbctl("--bare", "--columns=_uuid", "list", "Datapath_Binding").count("\n") >= 2,
                   timeout=20, what="three datapaths in the southbound")  # fmt: skip
        wait_until(lambda: traced(started, PING_VM2)["parsed"]["delivered_to"] == "p2", timeout=20, what="flows")
        yield started


def test_a_ping_on_one_switch_is_delivered_to_the_other_port(dbs: OvnDbs) -> None:
    result = traced(dbs, PING_VM2)
    assert result["ok"], result
    assert result["argv"][:4] == ["ovn-trace", f"--db={dbs.sb}", "--detailed", "--no-friendly-names"]
    assert result["argv"][-1] == (
        'inport == "p1" && eth.src == fa:16:3e:00:00:01 && eth.dst == fa:16:3e:00:00:02 && ip4 && '
        "ip4.src == 10.0.0.5 && ip4.dst == 10.0.0.6 && ip.ttl == 64 && icmp4 && icmp4.type == 8"
    )
    parsed = result["parsed"]
    assert parsed["delivered_to"] == "p2" and parsed["dropped_at"] is None
    assert [(p["direction"], p["datapath"], p["outport"]) for p in parsed["pipelines"]] == [
        ("ingress", dp(dbs, "ls1"), None),
        ("egress", dp(dbs, "ls1"), "p2"),
    ]
    lookup = [s for s in parsed["pipelines"][0]["stages"] if s["stage"] == "ls_in_l2_lkup"]
    assert lookup and lookup[0]["match"] == f"eth.dst == {VM2[0]}" and 'outport = "p2";' in lookup[0]["actions"]


def test_across_the_router_the_packet_is_routed_and_rewritten(dbs: OvnDbs) -> None:
    args = {**PING_VM2, "eth_dst": LRP1_MAC, "ip_dst": VM3[1]}
    parsed = traced(dbs, args)["parsed"]
    assert parsed["delivered_to"] == "p3"
    assert [(o["port"], o["type"]) for o in parsed["outputs"]] == [("rp1", "patch"), ("lrp2", "patch"), ("p3", "")]
    names = ["ls1", "ls1", "lr1", "lr1", "ls2", "ls2"]
    assert [p["datapath"] for p in parsed["pipelines"]] == [dp(dbs, name) for name in names]
    routing = next(s for p in parsed["pipelines"] for s in p["stages"] if s["stage"] == "lr_in_ip_routing")
    assert routing["match"] == "ip4.dst == 10.0.1.0/24" and "ip.ttl--;" in routing["actions"]
    resolve = next(s for p in parsed["pipelines"] for s in p["stages"] if s["stage"] == "lr_in_arp_resolve")
    assert f"eth.dst = {VM3[0]};" in resolve["actions"]


def test_port_security_drops_a_spoofed_source(dbs: OvnDbs) -> None:
    parsed = traced(dbs, {**PING_VM2, "ip_src": "10.0.0.99"})["parsed"]
    assert parsed["delivered_to"] is None
    assert parsed["dropped_at"] is not None and parsed["dropped_at"]["datapath"] == dp(dbs, "ls1")
    assert parsed["dropped_at"]["direction"] == "ingress" and "port_sec" in parsed["dropped_at"]["stage"]


def test_an_acl_that_drops_icmp_is_named_as_the_stage_that_dropped(dbs: OvnDbs) -> None:
    dbs.nbctl("acl-add", "ls1", "to-lport", "1001", 'outport == "p2" && icmp4', "drop")
    try:
        wait_until(lambda: traced(dbs, PING_VM2)["parsed"]["delivered_to"] is None, timeout=20, what="the ACL")
        parsed = traced(dbs, PING_VM2)["parsed"]
        drop = parsed["dropped_at"]
        assert drop["stage"] == "ls_out_acl" and drop["direction"] == "egress" and drop["datapath"] == dp(dbs, "ls1")
        assert drop["match"] == 'outport == "p2" && icmp4'
        tcp = traced(dbs, {**PING_VM2, "proto": "tcp", "tp_dst": 22, "icmp_type": None})
        assert tcp["parsed"]["delivered_to"] == "p2"  # the ACL drops ICMP only
    finally:
        dbs.nbctl("acl-del", "ls1")
    wait_until(lambda: traced(dbs, PING_VM2)["parsed"]["delivered_to"] == "p2", timeout=20, what="the ACL gone")


def test_the_chassiss_own_remote_is_used_when_none_is_configured(dbs: OvnDbs, tmp_path: Path) -> None:
    """A scratch Open vSwitch database (not the lab's) holding external_ids:ovn-remote, as a chassis's does."""
    env = {**os.environ, "OVS_RUNDIR": str(tmp_path)}
    db = tmp_path / "conf.db"
    subprocess.run(["ovsdb-tool", "create", str(db), "/usr/share/openvswitch/vswitch.ovsschema"], check=True)
    server = subprocess.Popen(
        ["ovsdb-server", str(db), f"--remote=punix:{tmp_path / 'db.sock'}", f"--pidfile={tmp_path / 'o.pid'}",
         f"--unixctl={tmp_path / 'o.ctl'}", "-vconsole:off"],
        env=env,
    )  # fmt: skip
    previous = os.environ.get("OVS_RUNDIR")
    os.environ["OVS_RUNDIR"] = str(tmp_path)  # ovs-vsctl's default database: $OVS_RUNDIR/db.sock
    try:
        wait_until(lambda: (tmp_path / "db.sock").exists(), what="ovsdb-server")
        vsctl = ["ovs-vsctl", "--no-wait"]
        subprocess.run([*vsctl, "init"], check=True, env=env)
        missing = run_probe("ovn_trace", PING_VM2, timeout=10)
        assert not missing["ok"] and missing["not_ovn"] and "not an OVN chassis" in missing["error"]
        subprocess.run([*vsctl, "set", "Open_vSwitch", ".", f"external_ids:ovn-remote={dbs.sb}"], check=True, env=env)
        result = run_probe("ovn_trace", PING_VM2, timeout=20)
        assert result["ok"] and result["argv"][1] == f"--db={dbs.sb}"
        assert result["parsed"]["delivered_to"] == "p2"
        subprocess.run([*vsctl, "set", "Open_vSwitch", ".", "external_ids:ovn-remote=ssl:10.0.0.1:6642"], check=True,
                       env=env)  # fmt: skip
        ssl = run_probe("ovn_trace", PING_VM2, timeout=10)
        assert not ssl["ok"] and "ssl: is not supported" in ssl["error"]
    finally:
        if previous is None:
            os.environ.pop("OVS_RUNDIR", None)
        else:
            os.environ["OVS_RUNDIR"] = previous
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ({**PING_VM2, "inport": 'p1" || 1 == 1 || inport == "x'}, "inport must be an OVN logical name"),
        ({**PING_VM2, "datapath": "ls1 --ovs"}, "datapath must be an OVN logical name"),
        ({**PING_VM2, "datapath": "--db=unix:/tmp/x"}, "datapath must be an OVN logical name"),
        ({**PING_VM2, "ip_dst": "fe80::1"}, "same address family"),
        ({**PING_VM2, "icmp_type": 300}, "icmp_type must be an integer from 0 to 255"),
        ({**PING_VM2, "proto": "sctp"}, "proto must be one of"),
        ({**PING_VM2, "proto": "udp", "tp_dst": 53}, "icmp_type needs proto icmp"),
        ({**PING_VM2, "ct": [["est", "$(id)"]]}, "ct flags must be among"),
        ({**PING_VM2, "ct": "est"}, "ct must be a list"),
        ({**PING_VM2, "shell": "id"}, "unknown argument(s) shell"),
        ({"inport": "p1"}, "datapath must be an OVN logical name"),
    ],
)
def test_hostile_or_wrong_arguments_are_refused_before_anything_runs(args: dict[str, Any], reason: str) -> None:
    result = run_probe("ovn_trace", args, runner=lambda argv, timeout: pytest.fail(f"ran {argv}"), ovn_sb_db="unix:/x")
    assert result["invalid"] and reason in result["error"], result


def test_ct_states_become_one_option_each_and_ipv6_its_own_fields() -> None:
    args = validate("ovn_trace", {**PING_VM2, "ip_src": "fd00::5", "ip_dst": "fd00::6", "ct": [["trk", "est"]]})
    argv = ovn_trace.argv_of(args, "tcp:127.0.0.1:6642")
    assert argv[:5] == ["ovn-trace", "--db=tcp:127.0.0.1:6642", "--detailed", "--no-friendly-names", "--ct=trk,est"]
    assert "ip6.src == fd00::5 && ip6.dst == fd00::6" in argv[-1] and "icmp6.type == 8" in argv[-1]
    assert argv[-2] == "ls1"


def test_the_probe_api_runs_it_through_the_agents_channel(dbs: OvnDbs, transactional_db: None) -> None:
    """The dashboard side for real (API, Redis channel layer, consumer); the agent's side of the socket runs
    the real probe code against the real southbound, as the agent's ProbeChannel does."""
    from tests.test_probes_channel import agent_socket, as_user, post, stored
    from topology.services import issue_agent_token

    stored("chassis-1")
    token = issue_agent_token("chassis-1")
    admin = as_user(True)

    async def run() -> Any:
        agent = agent_socket(token)
        assert (await agent.connect())[0]
        response = asyncio.ensure_future(
            asyncio.to_thread(post, admin, "chassis-1", {"kind": "ovn_trace", "args": PING_VM2, "timeout": 20})
        )
        request = await agent.receive_json_from(timeout=20)
        result = await asyncio.to_thread(traced, dbs, request["args"])
        await agent.send_json_to({"type": "probe.result", "id": request["id"], "result": result})
        answer = await response
        await agent.disconnect(timeout=10)
        return request, answer

    request, answer = async_to_sync(run)()
    assert request["kind"] == "ovn_trace" and request["args"]["inport"] == "p1"
    assert answer.status_code == 200, answer.content
    assert answer.json()["result"]["parsed"]["delivered_to"] == "p2"
    for member in (as_user(False), as_user(False, "p-alt")):
        refused = post(member, "chassis-1", {"kind": "ovn_trace", "args": PING_VM2})
        assert refused.status_code == 403  # admin only, as every probe
    hostile = post(admin, "chassis-1", {"kind": "ovn_trace", "args": {**PING_VM2, "inport": 'p1" || "'}})
    assert hostile.status_code == 400 and "inport" in hostile.json()["detail"]
