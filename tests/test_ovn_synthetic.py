"""A healthy ML2/OVN cloud joins without warnings (issue 17's "done when"), on REAL OVN databases.

bench/ovn_join.py's synthetic cloud at a small size (12 chassis, 3 of them gateways; 120 VM ports of 6
projects): the NB written as Neutron's OVN driver writes it, the SB's chassis registered and every port
and gateway bound by them, the chassis's reports as their agents send them. Every VM port is joined to
its tap on its chassis's br-int, every chassis to its host, every router gateway to its chassis; and no
node carries a warning (the router ports of an OVN cloud have no device on any host: not a warning).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.ovn_join import GATEWAYS, build, ovn_cloud
from lab.ovn_dbs import ovn_databases
from topology import graph as g
from topology.join import join
from topology.kinds import OVN_ATTR, OVN_SNAPSHOT_KEY
from topology.ovn.collect import OvnRemotes, collect_ovn

pytestmark = pytest.mark.ovn


def test_a_healthy_synthetic_ovn_cloud_joins_every_port_and_chassis_without_warnings(tmp_path: Path) -> None:
    cloud, reports, names = ovn_cloud(12, 120, 6)
    with ovn_databases(tmp_path / "ovn") as dbs:
        build(dbs, cloud, reports, names)
        snapshot = collect_ovn(OvnRemotes(dbs.nb, dbs.sb, timeout=30))
    assert snapshot["errors"] == []
    cloud[OVN_SNAPSHOT_KEY] = snapshot
    graph = join(cloud, reports)
    warnings = {n: a["attrs"]["warnings"] for n, a in graph.nodes.items() if a["attrs"].get("warnings")}
    assert warnings == {}, list(warnings.items())[:5]
    vm_ports = [p for p in cloud["ports"] if p["device_owner"] == "compute:nova"]
    assert len(vm_ports) == 120
    for port in vm_ports:
        node = graph.nodes[g.port_id(port["id"])]
        assert node["attrs"][OVN_ATTR]["chassis"] == f"chassis-{port['binding:host_id']}", node
        tap = g.iface_id(port["binding:host_id"], None, f"tap{port['id'][:11]}")
        assert tap in graph.nodes and any(e[0] == g.port_id(port["id"]) and e[1] == tap for e in graph.edges), port
    for r, router in enumerate(cloud["routers"]):
        gateway = graph.nodes[g.router_id(router["id"])]["attrs"][OVN_ATTR]["gateway"]
        assert gateway["active_chassis"] == f"chassis-{names[r % GATEWAYS]}", gateway
    for host in names:
        assert graph.nodes[g.host_id(host)]["attrs"][OVN_ATTR]["chassis"] == f"chassis-{host}"
