"""The lab's host modes (no lab needed): which agents each host runs per scenario, and where the
netnode scenario sorts in a test run."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from lab import hosts, neutron
from lab.scenarios import SCENARIOS, host_mode, needs_compute2, needs_dvr
from tests.conftest import scenario_rank


def names(daemons: list[neutron.Daemon]) -> set[str]:
    return {d.name for d in daemons}


def test_each_scenario_has_a_host_mode() -> None:
    modes = {name: host_mode(name) for name in SCENARIOS}
    assert modes == {
        "allinone": "legacy",
        "dualstack": "legacy",
        "dvr": "dvr",
        "overlap": "legacy",
        "netnode": "netnode",
        "ha": "ha",
        "vlan": "vlan",
    }
    assert [s for s in SCENARIOS if needs_compute2(s)] == ["dvr", "netnode", "ha", "vlan"]
    assert [s for s in SCENARIOS if needs_dvr(s)] == ["dvr"]


def test_in_mode_netnode_host_1_runs_no_l3_or_dhcp_agent_and_compute2_runs_both() -> None:
    host1 = names(neutron.agent_daemons("netnode"))
    assert "neutron-openvswitch-agent" in host1
    assert not host1 & {"neutron-l3-agent", "neutron-dhcp-agent"}
    assert names(neutron.agent_daemons("legacy")) == names(neutron.agent_daemons("dvr")) > host1
    assert neutron.agent_types("netnode") == ("Open vSwitch agent", "Metadata agent")
    compute2 = names(hosts.agent_daemons("netnode"))
    assert {"compute2-neutron-l3-agent", "compute2-neutron-dhcp-agent"} <= compute2
    assert "compute2-neutron-dhcp-agent" not in names(hosts.agent_daemons("dvr"))
    assert names(hosts.agent_daemons()) == compute2, "stopping compute2 stops every agent it may run"
    assert "DHCP agent" in hosts.agent_types("netnode") and "DHCP agent" not in hosts.agent_types("dvr")


def test_host_1s_ovs_agent_tunnels_from_br_phy_when_compute2_runs() -> None:
    assert f"local_ip = {neutron.DVR_LOCAL_IP}" in neutron.ovs_conf_of("netnode")
    assert "enable_distributed_routing" not in neutron.ovs_conf_of("netnode")
    assert "enable_distributed_routing = True" in neutron.ovs_conf_of("dvr")
    assert "local_ip = 127.0.0.1" in neutron.ovs_conf_of("legacy")
    with pytest.raises(ValueError, match="unknown host mode"):
        neutron.write_config("vlan-on-one-host")


@pytest.mark.parametrize(
    ("fixtures", "rank"),
    [
        ((), 0),
        (("lab",), 1),
        (("dualstack_lab",), 2),
        (("dvr_lab",), 3),
        (("overlap_lab",), 4),
        (("netnode_lab", "lab_session"), 5),
        (("ha_lab", "lab_session"), 6),
        (("vlan_lab", "lab_session"), 7),
    ],
)
def test_dualstack_runs_after_allinone_and_netnode_after_overlap(fixtures: tuple[str, ...], rank: int) -> None:
    item = SimpleNamespace(fixturenames=fixtures, path=SimpleNamespace(name="test_x.py"))
    assert scenario_rank(item) == rank  # type: ignore[arg-type]


def test_in_mode_ha_both_hosts_run_a_legacy_l3_agent_and_the_server_makes_routers_ha() -> None:
    assert names(neutron.agent_daemons("ha")) == names(neutron.agent_daemons("legacy"))
    assert "compute2-neutron-l3-agent" in names(hosts.agent_daemons("ha"))
    assert "compute2-neutron-dhcp-agent" not in names(hosts.agent_daemons("ha"))
    assert "l3_ha = True" in neutron.neutron_conf(ha=True).splitlines()
    assert "max_l3_agents_per_router = 2" in neutron.neutron_conf(ha=True).splitlines()
    assert "l3_ha" not in neutron.neutron_conf()
    assert f"local_ip = {neutron.DVR_LOCAL_IP}" in neutron.ovs_conf_of("ha")
    assert "l2_population" not in neutron.ovs_conf_of("ha"), "VRRP multicast is flooded to every tunnel"
    l3 = next(d for d in neutron.agent_daemons("ha") if d.name == "neutron-l3-agent")
    assert l3.env["PATH"].split(":")[0] == str(neutron.paths.venv_bin(neutron.VENV, "x").parent)


def test_a_scenarios_health_asks_only_for_the_daemons_its_host_mode_runs() -> None:
    from lab.state import daemon_names

    two_hosts: dict[str, dict[str, object]] = {hosts.CONTROLLER: {}, hosts.COMPUTE2: {}}
    netnode = daemon_names({"scenario": "netnode", "hosts": two_hosts})
    dvr = daemon_names({"scenario": "dvr", "hosts": two_hosts})
    allinone = daemon_names({"scenario": "allinone", "hosts": {hosts.CONTROLLER: {}}})
    assert "neutron-l3-agent" not in netnode and "compute2-neutron-dhcp-agent" in netnode
    assert "neutron-l3-agent" in dvr and "compute2-neutron-dhcp-agent" not in dvr
    assert "neutron-dhcp-agent" in allinone and not any(n.startswith("compute2-") for n in allinone)


def test_in_mode_vlan_project_networks_are_vlans_of_physnet1_mapped_to_br_vlan_on_both_hosts() -> None:
    ml2 = neutron.ml2_conf(vlan=True).splitlines()
    assert "project_network_types = vlan" in ml2
    assert "network_vlan_ranges = physnet1:100:104" in ml2
    assert "project_network_types = vxlan" in neutron.ML2.splitlines() and "network_vlan_ranges" not in neutron.ML2
    mappings = "bridge_mappings = external:br-ex,physnet1:br-vlan"
    assert mappings in neutron.ovs_conf_of("vlan").splitlines()
    assert "bridge_mappings = external:br-ex" in neutron.ovs_conf_of("ha").splitlines()
    assert "enable_distributed_routing" not in neutron.ovs_conf_of("vlan")
    # compute2: its OVS agent only (both routers and DHCP on host 1's legacy agents)
    assert names(hosts.agent_daemons("vlan")) == {"compute2-neutron-openvswitch-agent"}
    assert hosts.agent_types("vlan") == ("Open vSwitch agent",)
    assert names(neutron.agent_daemons("vlan")) == names(neutron.agent_daemons("legacy"))
    assert "lab-vlan1" in hosts.LINKS and "br-vlan" in hosts.BRIDGES, "torn down with compute2's wires"


def test_in_mode_vlan_the_server_runs_the_network_segment_range_plugin_and_only_there(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GET /v2.0/network-segment-ranges (issue 15: how full physnet1's range is) exists in scenario vlan only."""
    from pathlib import Path

    assert "service_plugins = router,network_segment_range" in neutron.neutron_conf(vlan=True).splitlines()
    assert "service_plugins = router" in neutron.neutron_conf().splitlines()
    assert "network_segment_range" not in neutron.neutron_conf(ha=True)
    root = Path(str(tmp_path))
    for name in ("CONF", "ML2_CONF", "OVS_AGENT_CONF", "L3_AGENT_CONF", "DHCP_AGENT_CONF", "DNSMASQ_CONF", "UWSGI_INI"):
        monkeypatch.setattr(neutron, name, root / name.lower())
    monkeypatch.setattr(neutron, "STATE_PATH", root / "state")
    monkeypatch.setattr(neutron.metadata, "config_files", lambda: {})
    neutron.write_config("vlan")
    assert "service_plugins = router,network_segment_range" in (root / "conf").read_text().splitlines()


def test_host_mode_vlan_is_read_back_from_the_files_it_wrote(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    root = Path(str(tmp_path))
    for name in ("CONF", "ML2_CONF", "OVS_AGENT_CONF", "L3_AGENT_CONF"):
        monkeypatch.setattr(neutron, name, root / name.lower())
    (root / "ml2_conf").write_text(neutron.ml2_conf(vlan=True))
    (root / "ovs_agent_conf").write_text(neutron.ovs_conf_of("vlan"))
    (root / "l3_agent_conf").write_text(neutron.l3_agent_conf("legacy"))
    (root / "conf").write_text("[DEFAULT]\n")
    assert neutron.host_mode() == "vlan"
    (root / "ml2_conf").write_text(neutron.ML2)
    assert neutron.host_mode() == "netnode"
