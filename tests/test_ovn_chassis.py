"""An OVN chassis as its node agent sees it, with a REAL ovn-controller, checked against the REAL southbound.

The central databases are lab/ovn_dbs.py's (ovsdb-servers and ovn-northd of the test's own, the NB
as Neutron's OVN driver writes it); the chassis is a scratch Open vSwitch database (not the lab's)
holding ovn-controller's settings in ``external_ids``, and a real ``ovn-controller`` on it that registers
itself in the SB and answers ``connection-status``. The agent's code reads both; the join checks them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lab.ovn_dbs import OvnDbs, ovn_databases, wait_until
from tests.test_ovn_join import EXT, neutron_snapshot
from tests.test_ovn_read import NET, PG, PORT_VM, RIF_MAC, VM_MAC, _populate, _sb_computed
from topology import graph as g
from topology.agent.ovn_chassis import ovn_section
from topology.agent.ovs import OvsdbReader
from topology.agent.probes import run_probe
from topology.join import join
from topology.join.chassis import chassis_warnings
from topology.kinds import OVN_ATTR, OVN_SNAPSHOT_KEY
from topology.ovn.collect import OvnRemotes, collect_ovn
from topology.probes import ovn_counters
from topology.report import validate_report

pytestmark = pytest.mark.ovn
HOST = "compute-a"
SYSTEM_ID = "chassis-a"
ENCAP_IP = "127.0.0.9"


@dataclass
class Chassis:
    root: Path
    env: dict[str, str]
    controller: subprocess.Popen[bytes] | None = None

    def vsctl(self, *args: str) -> None:
        subprocess.run(["ovs-vsctl", "--no-wait", *args], env=self.env, check=True, capture_output=True)

    def start_controller(self) -> None:
        self.controller = subprocess.Popen(
            ["ovn-controller", f"unix:{self.root / 'db.sock'}", f"--pidfile={self.root / 'ovn-controller.pid'}",
             f"--log-file={self.root / 'ovn-controller.log'}", "-vconsole:off"],
            env=self.env,
        )  # fmt: skip

    def stop_controller(self) -> None:
        if self.controller is not None:
            self.controller.terminate()
            self.controller.wait(timeout=10)
            self.controller = None

    def section(self) -> dict[str, Any] | None:
        reader = OvsdbReader(f"unix:{self.root / 'db.sock'}")
        reader.start()
        try:
            return ovn_section(reader.snapshot().external_ids)
        finally:
            reader.stop()


@pytest.fixture(scope="module")
def central(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OvnDbs]:
    with ovn_databases(tmp_path_factory.mktemp("ovn-chassis")) as dbs:
        _populate(dbs)
        # as tests/test_path_ovn.py: _populate's Address_Set pg_<sg>_ip4 would make northd's later SB commits fail
        dbs.nbctl("destroy", "Address_Set", dbs.nbctl("--bare", "--columns=_uuid", "find", "Address_Set",
                                                      f"name={PG}_ip4"))  # fmt: skip
        wait_until(lambda: _sb_computed(dbs), what="northd computing Port_Binding")
        yield dbs


@pytest.fixture
def chassis(central: OvnDbs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Chassis]:
    root = tmp_path / "chassis"
    root.mkdir()
    # ovn-appctl finds ovn-controller's control socket under OVN_RUNDIR, ovs-vsctl the database under OVS_RUNDIR
    monkeypatch.setenv("OVN_RUNDIR", str(root))
    monkeypatch.setenv("OVS_RUNDIR", str(root))
    env = dict(os.environ)
    subprocess.run(["ovsdb-tool", "create", str(root / "conf.db"), "/usr/share/openvswitch/vswitch.ovsschema"],
                   check=True)  # fmt: skip
    server = subprocess.Popen(
        ["ovsdb-server", str(root / "conf.db"), f"--remote=punix:{root / 'db.sock'}",
         f"--pidfile={root / 'ovsdb-server.pid'}", f"--unixctl={root / 'ovsdb-server.ctl'}", "-vconsole:off"],
        env=env,
    )  # fmt: skip
    one = Chassis(root, env)
    try:
        wait_until(lambda: (root / "db.sock").exists(), what="the chassis's ovsdb-server")
        one.vsctl("init")
        one.vsctl("set", "Open_vSwitch", ".", f"external_ids:system-id={SYSTEM_ID}",
                  f"external_ids:ovn-remote={central.sb}", "external_ids:ovn-encap-type=geneve",
                  f"external_ids:ovn-encap-ip={ENCAP_IP}", f"external_ids:hostname={HOST}",
                  "external_ids:ovn-bridge-mappings=public:br-ex",
                  "external_ids:ovn-cms-options=enable-chassis-as-gw")  # fmt: skip
        one.start_controller()
        wait_until(lambda: SYSTEM_ID in central.sbctl("--bare", "--columns=name", "list", "Chassis"), timeout=20,
                   what="ovn-controller registering its chassis")  # fmt: skip
        yield one
    finally:
        one.stop_controller()
        server.terminate()
        server.wait(timeout=10)
        central.sbctl("--if-exists", "chassis-del", SYSTEM_ID)
        shutil.rmtree(root, ignore_errors=True)


def cloud_with(central: OvnDbs) -> dict[str, Any]:
    cloud = neutron_snapshot()
    for network in cloud["networks"]:
        if network["id"] == EXT:
            network["provider:physical_network"] = "public"
    cloud[OVN_SNAPSHOT_KEY] = collect_ovn(OvnRemotes(central.nb, central.sb, timeout=5))
    return cloud


def report_with(section: dict[str, Any] | None) -> dict[str, Any]:
    report: dict[str, Any] = {
        "version": 1,
        "host": HOST,
        "collected_at": "2026-12-07T02:00:00Z",
        "tunnel_ip": None,
        "namespaces": [],
        "interfaces": [],
        "ovs": {"bridges": [], "flows": {}},
    }
    if section is not None:
        report["ovn"] = section
    return report


def host_attrs(cloud: dict[str, Any], section: dict[str, Any] | None) -> dict[str, Any]:
    graph = join(cloud, {HOST: report_with(section)})
    attrs: dict[str, Any] = graph.nodes[g.host_id(HOST)]["attrs"]
    return attrs


def test_the_agent_reads_the_chassis_settings_and_ovn_controllers_own_word(chassis: Chassis) -> None:
    section = chassis.section()
    assert section is not None
    assert section["chassis"] == {
        "system_id": SYSTEM_ID,
        "remote": section["chassis"]["remote"],
        "encap_type": "geneve",
        "encap_ip": ENCAP_IP,
        "hostname": HOST,
        "bridge_mappings": {"public": "br-ex"},
        "cms_options": ["enable-chassis-as-gw"],
    }
    assert section["chassis"]["remote"].startswith("unix:") and section["controller"] == {
        "connection": "connected",
        "error": None,
    }
    assert validate_report(report_with(section)) == []


def test_a_healthy_chassis_joins_its_southbound_chassis_without_warnings(central: OvnDbs, chassis: Chassis) -> None:
    section = chassis.section()
    attrs = host_attrs(cloud_with(central), section)
    ovn = attrs[OVN_ATTR]
    assert ovn["chassis"] == SYSTEM_ID and ovn["encaps"] == [{"type": "geneve", "ip": ENCAP_IP}]
    assert ovn["local"]["controller"] == "connected" and ovn["local"]["gateway"] is True
    assert "warnings" not in attrs, attrs.get("warnings")


def test_ovn_controller_stopped_is_said_on_the_host(central: OvnDbs, chassis: Chassis) -> None:
    cloud = cloud_with(central)  # the SB still lists the chassis: ovn-controller leaves it behind when killed
    chassis.stop_controller()
    section = chassis.section()
    assert section is not None and section["controller"]["connection"] is None
    assert "ovn-controller does not answer" in section["controller"]["error"]
    warnings = host_attrs(cloud, section)["warnings"]
    assert any(f"ovn-controller on {HOST} is not connected" in w for w in warnings), warnings


def test_a_gateway_chassis_without_the_external_networks_bridge_mapping(central: OvnDbs, chassis: Chassis) -> None:
    chassis.vsctl("set", "Open_vSwitch", ".", "external_ids:ovn-bridge-mappings=physnet9:br-other")
    section = chassis.section()
    warnings = host_attrs(cloud_with(central), section)["warnings"]
    assert warnings == [
        f"gateway chassis {HOST} has no bridge mapping for physical network public of the external network "
        "(ovn-bridge-mappings: physnet9:br-other): router gateways scheduled here cannot reach the outside"
    ]


def test_a_chassis_the_southbound_does_not_know(central: OvnDbs, chassis: Chassis) -> None:
    section = chassis.section()
    chassis.stop_controller()
    central.sbctl("chassis-del", SYSTEM_ID)
    warnings = host_attrs(cloud_with(central), section)["warnings"]
    assert any(f"{HOST} is configured as OVN chassis {SYSTEM_ID} but the southbound has no Chassis" in w
               for w in warnings), warnings  # fmt: skip


def test_disagreements_and_silence_pure() -> None:
    section = {
        "chassis": {"system_id": "c-new", "remote": "tcp:10.0.0.1:6642", "encap_type": "geneve",
                    "encap_ip": "10.0.1.5", "bridge_mappings": {}, "cms_options": []},
        "controller": {"connection": "connected", "error": None},
    }  # fmt: skip
    sb = {"chassis": "c-old", "encaps": [{"type": "geneve", "ip": "10.0.1.4"}], "gateway": False}
    warnings = chassis_warnings("h1", section, sb, True, ["public"])
    assert len(warnings) == 2
    assert "system-id c-new" in warnings[0] and "is c-old" in warnings[0]
    assert "ovn-encap-ip is 10.0.1.5 but the southbound has 10.0.1.4" in warnings[1]
    assert chassis_warnings("h1", section, None, False, []) == []  # the SB unread: its silence proves nothing
    assert chassis_warnings("h1", None, sb, True, ["public"]) == []  # an ML2/OVS node or an older agent


@pytest.mark.parametrize(
    "bad",
    [
        {"chassis": "c1"},
        {"chassis": {"encap_ip": "not-an-ip"}},
        {"chassis": {"bridge_mappings": {"public": 3}}},
        {"chassis": {"cms_options": "enable-chassis-as-gw"}},
        {"chassis": {}, "controller": {"connection": 1}},
        [],
    ],
)
def test_a_hostile_ovn_section_is_refused_with_its_reason(bad: Any) -> None:
    reasons = validate_report(report_with(bad))
    assert reasons and all(r.startswith("ovn") for r in reasons), reasons


def test_a_chassis_that_has_not_caught_up_is_said_on_the_host_until_it_does(central: OvnDbs, chassis: Chassis) -> None:
    """ovn-controller frozen for real (SIGSTOP) while the NB's nb_cfg is bumped (as Neutron does to check its
    agents): its Chassis_Private nb_cfg stays behind, the host says so; thawed, it catches up and the warning goes."""
    assert chassis.controller is not None
    # ovn-controller acknowledges an nb_cfg once its flows are on br-int: a real (userspace) ovs-vswitchd for it
    with userspace_vswitchd(chassis):
        caught_up_then_behind(central, chassis)


@contextlib.contextmanager
def userspace_vswitchd(chassis: Chassis) -> Iterator[str]:
    """A real ovs-vswitchd (netdev datapath) on the chassis's database, in a network namespace of its own (a
    netdev datapath's ovs-netdev device is one per namespace; the lab's may hold the root one); yields it."""
    chassis.vsctl("set", "Open_vSwitch", ".", "external_ids:ovn-bridge-datapath-type=netdev")
    namespace = f"nm-test-vswitchd-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    vswitchd = subprocess.Popen(
        ["ip", "netns", "exec", namespace, "ovs-vswitchd", f"unix:{chassis.root / 'db.sock'}",
         f"--pidfile={chassis.root / 'ovs-vswitchd.pid'}", f"--log-file={chassis.root / 'ovs-vswitchd.log'}",
         "-vconsole:off"],
        env=chassis.env,
    )  # fmt: skip
    try:
        yield namespace
    finally:
        vswitchd.terminate()
        vswitchd.wait(timeout=10)
        subprocess.run(["ip", "netns", "del", namespace], check=False)


def caught_up_then_behind(central: OvnDbs, chassis: Chassis) -> None:
    assert chassis.controller is not None
    central.nbctl("--wait=sb", "sync")
    first = int(central.nbctl("get", "NB_Global", ".", "nb_cfg"))
    wait_until(lambda: private_nb_cfg(central) == first, timeout=30, what="ovn-controller applying the NB's nb_cfg")
    assert "warnings" not in host_attrs(cloud_with(central), chassis.section())
    chassis.controller.send_signal(signal.SIGSTOP)
    try:
        central.nbctl("--wait=sb", "sync")  # nb_cfg + 1, waited for northd to copy it to the SB
        wanted = int(central.nbctl("get", "NB_Global", ".", "nb_cfg"))
        applied = private_nb_cfg(central)
        assert applied is not None and applied < wanted
        warnings = host_attrs(cloud_with(central), chassis.section())["warnings"]
        assert f"chassis {SYSTEM_ID} has applied NB configuration {applied} of {wanted}" in " ".join(warnings)
    finally:
        chassis.controller.send_signal(signal.SIGCONT)
    wait_until(lambda: private_nb_cfg(central) == wanted, timeout=20, what="the chassis catching up")
    attrs = host_attrs(cloud_with(central), chassis.section())
    assert attrs[OVN_ATTR]["behind"] is False and "warnings" not in attrs, attrs.get("warnings")


def private_nb_cfg(central: OvnDbs) -> int | None:
    found = central.sbctl("--bare", "--columns=nb_cfg", "find", "Chassis_Private", f"name={SYSTEM_ID}")
    return int(found) if found.strip() else None


def test_the_logical_flows_ovn_trace_meets_are_found_by_cookie_on_br_int_and_count_real_packets(
    central: OvnDbs, chassis: Chassis
) -> None:
    """The VM's port plugged for real into this chassis's br-int (an internal port with its iface-id): the real
    ovn-controller claims it and installs its flows; ovn-trace of an echo request to the router's address names
    the logical flows it meets, the agent's flow_counters finds their OpenFlow flows by cookie, and real pings
    from the port move the first stage's counters."""
    with userspace_vswitchd(chassis) as namespace:
        vm = "vm1"
        chassis.vsctl("--may-exist", "add-port", "br-int", vm, "--", "set", "Interface", vm, "type=internal",
                      f"external_ids:iface-id={PORT_VM}", f"mac=\"{VM_MAC}\"")  # fmt: skip
        wait_until(lambda: bound_to_us(central), timeout=30, what="ovn-controller claiming the VM's port")
        for argv in (["link", "set", vm, "address", VM_MAC], ["addr", "add", "10.0.0.5/24", "dev", vm],
                     ["link", "set", vm, "up"]):  # fmt: skip
            subprocess.run(["ip", "-n", namespace, *argv], check=True)
        args = {"datapath": f"neutron-{NET}", "inport": PORT_VM, "eth_src": VM_MAC, "eth_dst": RIF_MAC,
                "ip_src": "10.0.0.5", "ip_dst": "10.0.0.1", "ip_ttl": 64, "proto": "icmp", "icmp_type": 8}  # fmt: skip
        trace = run_probe("ovn_trace", args, timeout=20, ovn_sb_db=central.sb)
        assert trace["ok"], trace

        def ask(host: str, kind: str, probe: dict[str, Any]) -> dict[str, Any]:
            assert host == HOST
            return run_probe(kind, probe, timeout=20)

        def counted() -> list[dict[str, Any]]:
            result: dict[str, Any] = {"notes": []}
            ovn_counters.attach(result, HOST, trace, ask)
            stages: list[dict[str, Any]] = result["detail"]["openflow"]["stages"]
            return stages

        wait_until(lambda: counted()[0]["openflow_flows"] > 0, timeout=30, what="the port's flows on br-int")
        before = counted()
        first = before[0]
        assert first["stage"].startswith("ls_in_") and first["direction"] == "ingress", first
        assert sum(1 for s in before if s["openflow_flows"]) >= len(before) // 2, before
        subprocess.run(["ip", "netns", "exec", namespace, "ping", "-c", "3", "-i", "0.2", "-W", "1", "10.0.0.1"],
                       check=False, capture_output=True)  # fmt: skip
        wait_until(lambda: counted()[0]["n_packets"] > first["n_packets"], timeout=20,
                   what="the first stage's flows counting the pings")  # fmt: skip


def bound_to_us(central: OvnDbs) -> bool:
    ours = central.sbctl("--bare", "--columns=_uuid", "find", "Chassis", f"name={SYSTEM_ID}")
    bound = central.sbctl("--bare", "--columns=chassis", "find", "Port_Binding", f"logical_port={PORT_VM}")
    return bool(ours) and ours == bound
