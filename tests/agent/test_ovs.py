"""OVS bridges, ports, interfaces and flows from a real Open vSwitch.

Uses the OVS that runs on this machine (the lab's, when it is up): its
bridges are only read. The test adds its own `agt-br0` (netdev datapath,
fail_mode=secure so nothing is ever forwarded, OpenFlow13 only) and
deletes it afterwards. Skipped when no OVS runs: starting one here would
fight the lab, which starts and stops OVS itself.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.agent.conftest import needs_root, ovs_running, sh
from topology.agent.collect import Collector, collect_report
from topology.agent.flows import flow_lines
from topology.agent.ovs import OvsSnapshot, tunnel_ip
from topology.agent.watch import Watcher
from topology.report import OvsBridge, validate_report

BRIDGE = "agt-br0"


@pytest.fixture
def bridge(lab_session: None) -> Iterator[str]:
    """A scratch bridge on the real Open vSwitch the lab runs (userspace datapath)."""
    needs_root()
    assert ovs_running(), "Open vSwitch is not running (ovs-vsctl show fails) although the lab is up"
    sh("ovs-vsctl", "--if-exists", "del-br", BRIDGE)
    try:
        sh(
            "ovs-vsctl",
            "add-br",
            BRIDGE,
            "--",
            "set",
            "bridge",
            BRIDGE,
            "datapath_type=netdev",
            "fail_mode=secure",
            "protocols=OpenFlow13",
            "--",
            "add-port",
            BRIDGE,
            "agt-int0",
            "tag=5",
            "--",
            "set",
            "interface",
            "agt-int0",
            "type=internal",
            "external_ids:iface-id=11111111-2222-3333-4444-555555555555",
            "external_ids:attached-mac=fa:16:3e:00:00:01",
            # loopback endpoints: with fail_mode=secure and a drop flow nothing is sent anyway
            "--",
            "add-port",
            BRIDGE,
            "agt-vx0",
            "--",
            "set",
            "interface",
            "agt-vx0",
            "type=vxlan",
            "options:local_ip=127.0.0.2",
            "options:remote_ip=127.0.0.3",
            "options:key=flow",
        )
        sh("ovs-ofctl", "-O", "OpenFlow13", "add-flow", BRIDGE, "priority=10,actions=drop")
        yield BRIDGE
    finally:
        sh("ovs-vsctl", "--if-exists", "del-br", BRIDGE, check=False)


def by_name(items: list[Any], name: str) -> Any:
    return next(item for item in items if item["name"] == name)


def test_it_reads_bridges_ports_interfaces_and_flows(bridge: str) -> None:
    others = set(sh("ovs-vsctl", "list-br").stdout.split()) - {bridge}
    report: dict[str, Any] = dict(collect_report("agt-host"))
    assert validate_report(report) == []
    bridges = report["ovs"]["bridges"]
    assert others <= {b["name"] for b in bridges}, "every existing bridge is reported"

    ours = by_name(bridges, bridge)
    assert (ours["datapath_type"], ours["fail_mode"], ours["protocols"]) == ("netdev", "secure", ["OpenFlow13"])
    port = by_name(ours["ports"], "agt-int0")
    assert port["tag"] == 5
    iface = by_name(port["interfaces"], "agt-int0")
    assert iface["type"] == "internal" and isinstance(iface["ofport"], int)
    assert iface["external_ids"]["iface-id"] == "11111111-2222-3333-4444-555555555555"
    vxlan = by_name(by_name(ours["ports"], "agt-vx0")["interfaces"], "agt-vx0")
    assert vxlan["type"] == "vxlan"
    assert vxlan["options"] == {"local_ip": "127.0.0.2", "remote_ip": "127.0.0.3", "key": "flow"}
    assert by_name(ours["ports"], "agt-vx0")["tag"] is None

    # OpenFlow13-only bridge: dumped with -O, counters kept, header dropped
    flows = report["ovs"]["flows"][bridge]
    assert any("actions=drop" in line and "n_packets=" in line and "priority=10" in line for line in flows), flows
    assert not any(line.startswith(("OFPST_FLOW", "NXST_FLOW")) for line in flows)

    # the internal port's tap device in the root namespace is known for what it is
    assert by_name(report["interfaces"], "agt-int0")["kind"] == "ovs-internal"
    assert report["errors"] == []


def test_the_tunnel_ip_override_wins(bridge: str) -> None:
    assert collect_report("agt-host", tunnel_ip="10.0.1.11")["tunnel_ip"] == "10.0.1.11"


def test_it_reports_again_when_ovsdb_changes(bridge: str) -> None:
    reports: queue.Queue[tuple[dict[str, Any], str]] = queue.Queue()
    collector = Collector("agt-watch")
    watcher = Watcher(collector, lambda r, t: reports.put((dict(r), t)), interval=300, debounce=0.2)
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    try:
        reports.get(timeout=10)  # start
        sh("ovs-vsctl", "set", "port", "agt-int0", "tag=7")
        while True:
            report, trigger = reports.get(timeout=8)
            ours = [b for b in report["ovs"]["bridges"] if b["name"] == bridge]
            if ours and by_name(ours[0]["ports"], "agt-int0")["tag"] == 7:
                break
        assert "ovsdb" in trigger
    finally:
        watcher.stop()
        thread.join(10)
        watcher.close()
        collector.close()


def vxlan_bridge(name: str, local_ips: list[str]) -> OvsBridge:
    return {
        "name": name,
        "datapath_type": "netdev",
        "fail_mode": "secure",
        "ports": [
            {
                "name": f"vxlan-{i}",
                "tag": None,
                "interfaces": [
                    {
                        "name": f"vxlan-{i}",
                        "type": "vxlan",
                        "options": {"local_ip": ip, "remote_ip": "10.0.1.99"},
                        "external_ids": {},
                        "ofport": i,
                    }
                ],
            }
            for i, ip in enumerate(local_ips)
        ],
    }


def test_the_tunnel_ip_rule() -> None:
    tunnels = OvsSnapshot(bridges=[vxlan_bridge("br-tun", ["10.0.1.11", "10.0.1.11", "10.0.1.13"])])
    assert tunnel_ip("192.0.2.9", tunnels) == "192.0.2.9"  # --tunnel-ip first
    assert tunnel_ip(None, tunnels) == "10.0.1.11"  # then the tunnel ports' local_ip, most common
    configured = OvsSnapshot(other_config={"local_ip": "10.0.1.21"}, external_ids={"ovn-encap-ip": "10.0.1.22"})
    assert tunnel_ip(None, configured) == "10.0.1.21"
    assert tunnel_ip(None, OvsSnapshot(external_ids={"ovn-encap-ip": "10.0.1.22"})) == "10.0.1.22"
    assert tunnel_ip(None, OvsSnapshot()) is None
    assert tunnel_ip(None, None) is None


def test_flow_lines_drop_headers_and_keep_flows() -> None:
    text = (
        "OFPST_FLOW reply (OF1.3) (xid=0x2):\n"
        ' cookie=0x9d, duration=5.1s, table=0, n_packets=12, n_bytes=900, priority=2,in_port="int-br-ex" '
        "actions=drop\n"
        "NXST_FLOW reply (xid=0x4):\n"
        " cookie=0x0, duration=1.0s, table=0, n_packets=0, n_bytes=0, priority=0 actions=NORMAL\n"
    )
    assert flow_lines(text) == [
        'cookie=0x9d, duration=5.1s, table=0, n_packets=12, n_bytes=900, priority=2,in_port="int-br-ex" actions=drop',
        "cookie=0x0, duration=1.0s, table=0, n_packets=0, n_bytes=0, priority=0 actions=NORMAL",
    ]
