"""OVN's NB/SB joined to Neutron's objects, collected from REAL databases (lab/ovn_dbs.py).

The NB is written with ovn-nbctl as Neutron's OVN driver names things (tests/test_ovn_read.py's
``_populate``), the Neutron side is a synthetic snapshot with the same ids; the collector reads the
databases over their unix sockets; the join is the product's. No lab, no mocks.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.ovn_dbs import OvnDbs, ovn_databases, wait_until
from tests.test_ovn_read import FIP, NET, PORT_GW, PORT_RIF, PORT_VM, ROUTER, SG, SUBNET, _populate, _sb_computed
from topology import graph as g
from topology.agent.collect import collect_report
from topology.join import JoinCache, join
from topology.kinds import OVN_ATTR, OVN_SNAPSHOT_KEY, AgentType, Backend
from topology.ovn.backend import backend_status, detect_backend
from topology.ovn.collect import OvnRemotes, collect_ovn
from topology.scope import scope_graph

pytestmark = pytest.mark.ovn

EXT = "70819203-a4b5-4c6d-8e7f-90a1b2c3d4e5"
PORT_NO_LSP = "8192a3b4-c5d6-4e7f-8091-a2b3c4d5e6f7"  # in Neutron, never written to OVN
LSP_NO_PORT = "92a3b4c5-d6e7-4f80-91a2-b3c4d5e6f708"  # in OVN, deleted from Neutron
PROJECT = "demo-project"
HOST = "controller"


def port(port_id: str, owner: str, network: str, device: str, ip: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": port_id,
        "name": "",
        "network_id": network,
        "device_owner": owner,
        "device_id": device,
        "mac_address": "fa:16:3e:00:00:01",
        "fixed_ips": [{"subnet_id": SUBNET, "ip_address": ip}],
        "status": "ACTIVE",
        "admin_state_up": True,
        "project_id": PROJECT,
        "binding:host_id": HOST,
        "security_groups": [],
        "revision_number": 3,
        **extra,
    }


def neutron_snapshot() -> dict[str, Any]:
    """What Neutron's API says of the same cloud the fixture's NB holds (ids equal on both sides)."""
    return {
        "networks": [
            {"id": NET, "name": "private", "project_id": PROJECT, "status": "ACTIVE", "revision_number": 1},
            {"id": EXT, "name": "public", "project_id": PROJECT, "status": "ACTIVE", "router:external": True},
        ],
        "subnets": [{"id": SUBNET, "network_id": NET, "cidr": "10.0.0.0/24", "ip_version": 4, "project_id": PROJECT}],
        "ports": [
            port(PORT_VM, "compute:nova", NET, "vm-1", "10.0.0.5", security_groups=[SG]),
            port(PORT_RIF, "network:router_interface", NET, ROUTER, "10.0.0.1"),
            port(PORT_GW, "network:router_gateway", EXT, ROUTER, "172.24.4.10"),
            port(PORT_NO_LSP, "compute:nova", NET, "vm-2", "10.0.0.6"),
        ],
        "routers": [
            {
                "id": ROUTER,
                "name": "router1",
                "project_id": PROJECT,
                "status": "ACTIVE",
                "external_gateway_info": {"network_id": EXT},
            }
        ],
        "floatingips": [
            {
                "id": FIP,
                "floating_ip_address": "172.24.4.20",
                "floating_network_id": EXT,
                "port_id": PORT_VM,
                "fixed_ip_address": "10.0.0.5",
                "router_id": ROUTER,
                "project_id": PROJECT,
                "status": "ACTIVE",
            }
        ],
        "security_groups": [{"id": SG, "name": "default", "project_id": PROJECT}],
        "security_group_rules": [],
        "agents": [
            {"id": "a1", "agent_type": AgentType.OVN_CONTROLLER_GATEWAY, "host": HOST, "alive": True},
            {"id": "a2", "agent_type": AgentType.OVN_METADATA, "host": HOST, "alive": True},
        ],
        "servers": [],
    }


@pytest.fixture(scope="module")
def ovn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OvnDbs]:
    with ovn_databases(tmp_path_factory.mktemp("ovn-join")) as dbs:
        _populate(dbs)
        dbs.nbctl("lsp-add", f"neutron-{NET}", LSP_NO_PORT)
        wait_until(lambda: _sb_computed(dbs), what="northd computing Port_Binding")
        # Stand in for ovn-controller on chassis-1 claiming the VM's port and the router's gateway.
        dbs.sbctl("lsp-bind", PORT_VM, "chassis-1")
        dbs.sbctl("lsp-bind", f"cr-lrp-{PORT_GW}", "chassis-1")
        wait_until(lambda: dbs.nbctl("get", "Logical_Switch_Port", PORT_VM, "up") == "true", what="LSP up")
        yield dbs


@pytest.fixture(scope="module")
def joined(ovn: OvnDbs) -> tuple[dict[str, Any], g.Graph]:
    cloud = neutron_snapshot()
    cloud[OVN_SNAPSHOT_KEY] = collect_ovn(OvnRemotes(ovn.nb, ovn.sb, timeout=5))
    return cloud, join(cloud, {})


def attrs(graph: g.Graph, node_id: str) -> dict[str, Any]:
    return graph.nodes[node_id]["attrs"]


def test_the_collector_reads_both_real_databases_into_the_snapshot(joined: tuple[dict[str, Any], g.Graph]) -> None:
    cloud, _ = joined
    ovn = cloud[OVN_SNAPSHOT_KEY]
    assert ovn["errors"] == []
    assert f"neutron-{NET}" in {ls["name"] for ls in ovn["nb"]["logical_switches"]}
    assert "chassis-1" in {c["name"] for c in ovn["sb"]["chassis"]}
    json.dumps(ovn)  # stored as the snapshot's JSON


def test_an_unreachable_database_is_an_error_and_the_other_is_still_read(ovn: OvnDbs, tmp_path: Path) -> None:
    missing = f"unix:{tmp_path / 'sb.sock'}"  # no server there
    collected = collect_ovn(OvnRemotes(ovn.nb, missing, timeout=2))
    assert collected["nb"] is not None and collected["sb"] is None
    [error] = collected["errors"]
    assert error.startswith(f"OVN_Southbound at {missing}")
    status = backend_status({"agents": neutron_snapshot()["agents"], OVN_SNAPSHOT_KEY: collected}, ovn.nb, missing)
    assert status["mechanism"] == Backend.ML2_OVN
    assert status["ovn"]["nb"] == {"configured": True, "reachable": True, "error": None}
    assert status["ovn"]["sb"] == {"configured": True, "reachable": False, "error": error}
    # and the join of a snapshot without an SB still joins the NB side
    cloud = {**neutron_snapshot(), OVN_SNAPSHOT_KEY: collected}
    graph = join(cloud, {})
    assert attrs(graph, g.port_id(PORT_VM))[OVN_ATTR]["chassis"] is None


def test_switch_and_ports_join_by_neutrons_names(joined: tuple[dict[str, Any], g.Graph]) -> None:
    _, graph = joined
    assert attrs(graph, g.network_id(NET))[OVN_ATTR] == {"logical_switch": f"neutron-{NET}", "ports": 3}
    vm = attrs(graph, g.port_id(PORT_VM))[OVN_ATTR]
    assert vm["logical_switch_port"] == PORT_VM and vm["type"] == ""
    assert vm["up"] is True and vm["chassis"] == "chassis-1"
    rif = attrs(graph, g.port_id(PORT_RIF))[OVN_ATTR]
    assert rif["type"] == "router" and rif["logical_router_port"] == f"lrp-{PORT_RIF}"
    assert rif["networks"] == ["10.0.0.1/24"]


def test_router_nat_and_the_chassis_holding_the_gateway(joined: tuple[dict[str, Any], g.Graph]) -> None:
    _, graph = joined
    router = attrs(graph, g.router_id(ROUTER))[OVN_ATTR]
    assert router["logical_router"] == f"neutron-{ROUTER}"
    assert router["gateway"] == {
        "port": f"lrp-{PORT_GW}",
        "gateway_chassis": [{"chassis": "chassis-1", "priority": 1}],
        "active_chassis": "chassis-1",
    }
    assert {(n["type"], n["external_ip"]) for n in router["nat"]} == {
        ("snat", "172.24.4.10"),
        ("dnat_and_snat", "172.24.4.20"),
    }
    assert attrs(graph, g.port_id(PORT_GW))[OVN_ATTR]["active_chassis"] == "chassis-1"
    assert "warnings" not in attrs(graph, g.router_id(ROUTER)), attrs(graph, g.router_id(ROUTER))["warnings"]
    fip = attrs(graph, g.fip_id(FIP))[OVN_ATTR]
    assert fip["nat"]["logical_ip"] == "10.0.0.5" and fip["nat"]["logical_port"] == PORT_VM
    assert fip["logical_router"] == f"neutron-{ROUTER}"


def test_security_group_joins_its_port_group_and_acls(joined: tuple[dict[str, Any], g.Graph]) -> None:
    _, graph = joined
    pg = "pg_" + SG.replace("-", "_")
    assert attrs(graph, g.secgroup_id(SG))[OVN_ATTR] == {
        "port_group": pg,
        "ports": 1,
        "acls": {"from-lport": 1, "to-lport": 1},
    }


def test_chassis_joins_the_host_by_hostname(joined: tuple[dict[str, Any], g.Graph]) -> None:
    _, graph = joined
    assert attrs(graph, g.host_id(HOST))[OVN_ATTR] == {
        "chassis": "chassis-1",
        "encaps": [{"type": "geneve", "ip": "127.0.0.2"}],
        "gateway": True,
        "nb_cfg": None,  # chassis-add writes no Chassis_Private (ovn-controller would)
        "nb_cfg_wanted": 0,  # NB_Global's: never bumped here
        "behind": False,  # nothing applied is said: not behind
    }


def test_mismatches_are_warnings_on_the_neutron_nodes(joined: tuple[dict[str, Any], g.Graph]) -> None:
    _, graph = joined
    no_lsp = f"OVN NB has no Logical_Switch_Port for port {PORT_NO_LSP}: neutron-db-sync"
    assert no_lsp in attrs(graph, g.port_id(PORT_NO_LSP))["warnings"]
    assert OVN_ATTR not in attrs(graph, g.port_id(PORT_NO_LSP))
    assert (
        f"OVN NB has Logical_Switch_Port {LSP_NO_PORT} on neutron-{NET} for no Neutron port: neutron-db-sync"
        in attrs(graph, g.network_id(NET))["warnings"]
    )
    # the gateway port's external network has no switch in this NB: nothing to compare, no warning
    for node_id in (g.port_id(PORT_GW), g.port_id(PORT_VM)):
        assert not [w for w in attrs(graph, node_id).get("warnings", []) if "OVN" in w]


def test_a_project_sees_no_ovn_summary(joined: tuple[dict[str, Any], g.Graph]) -> None:
    _, graph = joined
    scoped = scope_graph(graph.to_dict(), "all", PROJECT)
    nodes = {n["id"]: n for n in scoped["nodes"]}
    assert g.port_id(PORT_VM) in nodes
    assert all(OVN_ATTR not in n["attrs"] for n in nodes.values())


def test_a_cloud_without_ovn_is_joined_as_before() -> None:
    cloud = neutron_snapshot()
    graph = join(cloud, {})
    assert all(OVN_ATTR not in n["attrs"] for n in graph.nodes.values())
    assert not [w for n in graph.nodes.values() for w in n["attrs"].get("warnings", []) if "OVN" in w]
    unreachable = {**cloud, OVN_SNAPSHOT_KEY: {"nb": None, "sb": None, "errors": ["OVN_Northbound at x: gone"]}}
    assert join(unreachable, {}).to_dict() == graph.to_dict()


@pytest.mark.parametrize(
    ("types", "backend"),
    [
        ([AgentType.OVN_CONTROLLER, AgentType.OVN_METADATA], Backend.ML2_OVN),
        ([AgentType.OVN_CONTROLLER_GATEWAY], Backend.ML2_OVN),
        ([AgentType.OPEN_VSWITCH, "L3 agent", "DHCP agent"], Backend.ML2_OVS),
        (["DHCP agent"], Backend.UNKNOWN),
        ([], Backend.UNKNOWN),  # a project's caller lists no agents
    ],
)
def test_backend_from_neutrons_agent_list(types: list[str], backend: str) -> None:
    assert detect_backend([{"agent_type": t} for t in types]) == backend


def test_the_status_of_an_ml2_ovs_cloud_says_nothing_of_ovn() -> None:
    agents = [{"agent_type": AgentType.OPEN_VSWITCH}]
    assert backend_status({"agents": agents}, "", "") == {"mechanism": Backend.ML2_OVS}


def test_a_cached_join_equals_the_cold_one(joined: tuple[dict[str, Any], g.Graph]) -> None:
    cloud, graph = joined
    cache = JoinCache()
    assert join(cloud, {}, cache).to_dict() == graph.to_dict()
    assert join(cloud, {}, cache).to_dict() == graph.to_dict()  # from the cached logical part


def test_an_ovnmeta_namespace_collected_for_real_is_bound_to_its_network(ovn: OvnDbs, tmp_path: Path) -> None:
    """What OVN's metadata agent makes on a chassis, made for real (a namespace `ovnmeta-<network id>` with its
    tap...1 end holding 169.254.169.254), read by the agent's own collector and joined to the network; one of
    a network the cloud does not know is a warning on it. The namespaces are bind-mounted into a directory of
    the test's own, so the collector reads them only."""
    names = [f"ovnmeta-{NET}", "ovnmeta-00000000-0000-4000-8000-00000000dead"]
    netns_dir = tmp_path / "netns"
    netns_dir.mkdir()
    try:
        for name in names:
            run("ip", "netns", "add", name)
            (netns_dir / name).touch()
            run("mount", "--bind", f"/run/netns/{name}", str(netns_dir / name))
        inside = f"tap{NET[:10]}1"
        run("ip", "-n", names[0], "link", "add", inside, "type", "veth", "peer", "name", f"tap{NET[:10]}0")
        run("ip", "-n", names[0], "addr", "add", "169.254.169.254/32", "dev", inside)
        run("ip", "-n", names[0], "link", "set", inside, "up")
        report: dict[str, Any] = dict(collect_report(HOST, netns_dir=netns_dir, ovsdb=None))
    finally:
        for name in names:
            subprocess.run(["umount", str(netns_dir / name)], check=False, capture_output=True)
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)
    assert sorted(n["name"] for n in report["namespaces"]) == sorted(names)
    cloud = neutron_snapshot()
    cloud[OVN_SNAPSHOT_KEY] = collect_ovn(OvnRemotes(ovn.nb, ovn.sb, timeout=5))
    graph = join(cloud, {HOST: report})
    ours, unknown = (g.netns_id(HOST, name) for name in names)
    assert graph.nodes[ours]["attrs"]["role"] == "ovnmeta"
    assert (g.network_id(NET), ours, "binds") in graph.edges, "ovnmeta- not bound to its network"
    assert any("belongs to no network the cloud knows" in w for w in graph.nodes[unknown]["attrs"]["warnings"])
    assert "169.254.169.254/32" in json.dumps(graph.nodes[g.iface_id(HOST, names[0], inside)]["attrs"])


def run(*args: str) -> None:
    done = subprocess.run(args, check=False, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(args)}: {done.stderr}"
