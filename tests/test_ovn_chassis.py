"""An OVN chassis as its node agent sees it, with a REAL ovn-controller, checked against the REAL southbound.

The central databases are tests/ovn_dbs.py's (ovsdb-servers and ovn-northd of the test's own, the NB
as Neutron's OVN driver writes it); the chassis is a scratch Open vSwitch database (not the lab's)
holding ovn-controller's settings in ``external_ids``, and a real ``ovn-controller`` on it that registers
itself in the SB and answers ``connection-status``. The agent's code reads both; the join checks them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.ovn_dbs import OvnDbs, ovn_databases, wait_until
from tests.test_ovn_join import EXT, neutron_snapshot
from tests.test_ovn_read import _populate, _sb_computed
from topology import graph as g
from topology.agent.ovn_chassis import ovn_section
from topology.agent.ovs import OvsdbReader
from topology.join import join
from topology.join.chassis import chassis_warnings
from topology.kinds import OVN_ATTR, OVN_SNAPSHOT_KEY
from topology.ovn.collect import OvnRemotes, collect_ovn
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
