"""The OVN monitor against REAL databases (lab/ovn_dbs.py: ovsdb-servers and ovn-northd of the test's own).

The NB is written as Neutron's OVN driver names things (tests/test_ovn_read.py's ``_populate``), the
Neutron side is tests/test_ovn_join.py's synthetic snapshot with the same ids. The monitor runs in a
thread as `manage.py monitor_ovn` runs it; a change made with ovn-sbctl (a chassis releasing the VM's
port, as ovn-controller does when it stops) reaches the stored snapshot and the joined graph without
any refresh. No lab, no mocks.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.ovn_dbs import OvnDbs, ovn_databases, wait_until
from tests.test_ovn_join import neutron_snapshot
from tests.test_ovn_read import PORT_VM, _populate, _sb_computed
from topology import graph as g
from topology import services
from topology.consumers import current_graph
from topology.kinds import OVN_ATTR, OVN_SNAPSHOT_KEY
from topology.models import CloudSnapshot
from topology.ovn.collect import OvnRemotes, collect_ovn
from topology.ovn.monitor import OvnMonitor
from topology.ovn.monitor_apply import apply_ovn

pytestmark = pytest.mark.ovn


@pytest.fixture(scope="module")
def ovn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OvnDbs]:
    with ovn_databases(tmp_path_factory.mktemp("ovn-monitor")) as dbs:
        _populate(dbs)
        wait_until(lambda: _sb_computed(dbs), what="northd computing Port_Binding")
        dbs.sbctl("lsp-bind", PORT_VM, "chassis-1")
        wait_until(lambda: dbs.nbctl("get", "Logical_Switch_Port", PORT_VM, "up") == "true", what="LSP up")
        yield dbs


class Running:
    """A monitor in its own thread, as the management command runs it; its applies counted."""

    def __init__(self, remotes: OvnRemotes, on_change: Any) -> None:
        self.stop = threading.Event()
        self.seen: list[dict[str, Any]] = []

        def record(ovn: dict[str, Any]) -> object:
            self.seen.append(ovn)
            return on_change(ovn)

        self.monitor = OvnMonitor(remotes, record)
        self.thread = threading.Thread(target=self.monitor.run, args=(self.stop,), daemon=True)

    def __enter__(self) -> Running:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=20)
        assert not self.thread.is_alive()


def vm_chassis(graph: dict[str, Any]) -> Any:
    node = next(n for n in graph["nodes"] if n["id"] == g.port_id(PORT_VM))
    return node["attrs"][OVN_ATTR]["chassis"]


def test_the_monitor_reads_what_the_refresh_reads(ovn: OvnDbs) -> None:
    remotes = OvnRemotes(ovn.nb, ovn.sb, timeout=5)
    with Running(remotes, lambda _ovn: None) as running:
        wait_until(lambda: running.seen, what="the first dump")
    assert running.seen[0] == collect_ovn(remotes)  # the same shape and content: no churn between the two


def test_a_change_reaches_the_snapshot_and_the_graph_without_a_refresh(ovn: OvnDbs, transactional_db: None) -> None:
    cloud = {**neutron_snapshot(), OVN_SNAPSHOT_KEY: collect_ovn(OvnRemotes(ovn.nb, ovn.sb, timeout=5))}
    services.store_snapshot(cloud, "test")
    services.apply_cloud()
    revision, graph = current_graph()
    assert vm_chassis(graph) == "chassis-1"
    with Running(OvnRemotes(ovn.nb, ovn.sb, timeout=5), apply_ovn) as running:
        wait_until(lambda: running.monitor.applied >= 1, what="the first dump read")
        assert current_graph()[0] == revision  # the first dump is what the snapshot holds: nothing joined again
        ovn.sbctl("lsp-unbind", PORT_VM)  # what ovn-controller does when the VM's chassis lets the port go
        wait_until(lambda: vm_chassis(current_graph()[1]) is None, timeout=20, what="the unbinding in the graph")
        stored = CloudSnapshot.objects.latest_snapshot()
        assert stored is not None and stored.data["ports"] == cloud["ports"]  # Neutron's part untouched
        binding = next(b for b in stored.data[OVN_SNAPSHOT_KEY]["sb"]["port_bindings"] if b["logical_port"] == PORT_VM)
        assert binding["chassis"] is None
        ovn.sbctl("lsp-bind", PORT_VM, "chassis-1")
        wait_until(lambda: vm_chassis(current_graph()[1]) == "chassis-1", timeout=20, what="bound again")
    assert current_graph()[0] > revision


def test_an_unreachable_database_is_an_error_and_the_other_is_still_monitored(ovn: OvnDbs, tmp_path: Path) -> None:
    missing = f"unix:{tmp_path / 'sb.sock'}"  # no server there
    with Running(OvnRemotes(ovn.nb, missing, timeout=2), lambda _ovn: None) as running:
        wait_until(lambda: running.seen, what="the NB's first dump")
        state = running.monitor.state()
    first = running.seen[0]
    assert first["nb"] is not None and first["sb"] is None
    [error] = first["errors"]
    assert error.startswith(f"OVN_Southbound at {missing}")
    assert [(d["schema"], d["connected"]) for d in state["databases"]] == [
        ("OVN_Northbound", True),
        ("OVN_Southbound", False),
    ]
    assert first == collect_ovn(OvnRemotes(ovn.nb, missing, timeout=2))  # as the refresh says it too


def test_no_snapshot_yet_is_left_to_the_first_refresh(ovn: OvnDbs, transactional_db: None) -> None:
    assert CloudSnapshot.objects.latest_snapshot() is None
    assert apply_ovn(collect_ovn(OvnRemotes(ovn.nb, ovn.sb, timeout=5))) is False
    assert CloudSnapshot.objects.latest_snapshot() is None
