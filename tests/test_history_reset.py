"""A reset row in the history (issue 13): the writer's start with no stored graph records a checkpoint, no delta.

The graph service runs for real on a synthetic cloud: revision 1 is a first start (a reset), revision 2
a report's delta, revision 3 a writer started again over a database whose stored graph is gone, after a
cloud change (a reset whose graph differs from revision 2's), revision 4 a delta again. Each reader of
the history's deltas is asked across revision 3: the replay and "what changed" read it as its checkpoint
diffed with revision 2, the path API's indexed graph is built afresh, the watches are all re-checked.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any, Literal

import pytest

from tests.history_inputs import Inputs, rebuild
from topology import graph as g
from topology import graphservice, path_graph
from topology.graphservice import GraphWriter
from topology.history import window
from topology.history.causes import touched_ids
from topology.history.delta import canonical
from topology.history.listing import history_page
from topology.history.models import GraphRevision
from topology.history.replay import Replay, graph_at, reset_delta
from topology.models import GraphPart, GraphState
from topology.path import Topo
from topology.watches.check import touched
from topology.watches.models import Watch

pytestmark = pytest.mark.django_db
JsonDict = dict[str, Any]
EMPTY: JsonDict = {"nodes": [], "edges": []}
PARTS: tuple[Literal["added"], Literal["removed"], Literal["changed"]] = ("added", "removed", "changed")


@pytest.fixture(autouse=True)
def nothing_held() -> None:
    path_graph.forget()
    window.forget()


def restart_without_stored_graph(monkeypatch: pytest.MonkeyPatch) -> tuple[int, JsonDict]:
    """The stored parts gone and a writer of a new process: its apply syncs, finds no part, resets."""
    GraphPart.objects.all().delete()
    monkeypatch.setattr(graphservice, "WRITER", GraphWriter())
    revision, graph = rebuild()
    assert graphservice.last_applied().reset
    return revision, graph


def a_port_down(inputs: Inputs) -> None:
    port = next(p for p in inputs.cloud["ports"] if p["device_owner"] == "compute:nova" and p["status"] == "ACTIVE")
    port["status"] = "DOWN"
    inputs.store_cloud()


def a_network_renamed(inputs: Inputs) -> str:
    """The first network renamed; its project."""
    network = inputs.cloud["networks"][0]
    network["name"] += "-renamed"
    inputs.store_cloud()
    return str(network["project_id"])


def a_host_gone(inputs: Inputs) -> None:
    host = sorted(inputs.reports)[-1]
    del inputs.reports[host]
    inputs.store_reports({host})


@pytest.fixture
def history(monkeypatch: pytest.MonkeyPatch) -> dict[int, JsonDict]:
    """Revisions 1-4 as described above; the graph of each."""
    inputs = Inputs(hosts=4, ports=16, projects=2)
    inputs.store_all()
    graphs: dict[int, JsonDict] = {}
    revision, graphs[1] = rebuild()
    assert revision == 1 and graphservice.last_applied().reset  # a first start is a reset too
    a_port_down(inputs)
    revision, graphs[2] = rebuild()
    assert revision == 2 and not graphservice.last_applied().reset
    a_host_gone(inputs)  # the writer is down meanwhile: no revision
    a_network_renamed(inputs)
    revision, graphs[3] = restart_without_stored_graph(monkeypatch)
    assert revision == 3
    a_port_down(inputs)
    revision, graphs[4] = rebuild()
    assert revision == 4 and not graphservice.last_applied().reset
    return graphs


def same(a: g.Delta, b: g.Delta) -> bool:
    """Two deltas equal but for the order of their lists."""

    def key(delta: g.Delta) -> tuple[Any, ...]:
        nodes = [{(n if isinstance(n, str) else n["id"]): n for n in delta[part]["nodes"]} for part in PARTS]
        edges = [{g.edge_key(e) for e in delta[part]["edges"]} for part in PARTS[:2]]
        return (*nodes, *edges)

    return key(a) == key(b)


def test_the_reset_rows_are_checkpoints_without_a_delta(history: dict[int, JsonDict]) -> None:
    rows = {row.revision: row for row in GraphRevision.objects.all()}
    assert {r for r, row in rows.items() if row.reset} == {1, 3}
    for revision in (1, 3):
        assert bytes(rows[revision].delta_gz) == b"" and rows[revision].is_checkpoint
        assert rows[revision].causes == [{"kind": "reset"}]
    assert not rows[2].reset and not rows[4].reset


def test_the_replay_takes_a_reset_row_as_its_checkpoint_diffed_with_the_revision_before(
    history: dict[int, JsonDict],
) -> None:
    for revision, graph in history.items():
        assert canonical(graph_at(revision)) == canonical(graph)
    replay = Replay(2)
    deltas: dict[int, g.Delta] = {}
    for row, delta in replay.deltas(4):
        deltas[row.revision] = copy.deepcopy(delta)
        replay.apply(row, delta)
    assert same(deltas[3], g.diff(history[2], history[3])) and not g.is_empty(deltas[3])
    assert canonical(replay.graph()) == canonical(history[4])


def test_the_history_listing_counts_a_reset_row_by_its_diff(history: dict[int, JsonDict]) -> None:
    admin = {entry["revision"]: entry for entry in history_page(None, None, 10)["revisions"]}
    assert admin[3]["cause"] == "the graph written whole (no stored graph)"
    assert admin[3]["counts"]["added"] == {"nodes": len(history[3]["nodes"]), "edges": len(history[3]["edges"])}
    project = Inputs(hosts=4, ports=16, projects=2).cloud["networks"][0]["project_id"]
    member = {entry["revision"]: entry for entry in history_page(project, None, 10)["revisions"]}
    # the member sees what the reset changed in their view (their network renamed), not the whole graph added
    assert member[3]["counts"]["changed"]["nodes"] >= 1
    assert member[3]["counts"]["added"]["nodes"] == 0 and member[3]["cause"] == admin[3]["cause"]


def test_what_changed_reads_a_reset_row_as_its_diff_with_the_revision_before(history: dict[int, JsonDict]) -> None:
    newest_at = GraphRevision.objects.get(revision=4).at
    loaded = window.load_history(4, newest_at + timedelta(seconds=1))
    assert loaded is not None and loaded.checkpoint.revision == 1  # the window (24 h) starts before the reset
    deltas = {revision: delta for revision, _, _, delta in loaded.rows}
    assert sorted(deltas) == [2, 3, 4]
    assert same(deltas[3], g.diff(history[2], history[3])) and not g.is_empty(deltas[3])
    assert same(reset_delta(3), deltas[3])
    assert same(reset_delta(1), g.diff(EMPTY, history[1]))  # the first revision: everything added
    # a node the reset removed (the host gone) is seen as it was before it, and gone after
    after = {n["id"] for n in history[3]["nodes"]}
    gone = next(n for n in history[2]["nodes"] if n["id"] not in after)
    assert loaded.node_at(gone["id"], 2, None) == gone
    assert loaded.node_at(gone["id"], 3, None) is None


def test_the_path_graph_is_built_afresh_across_a_reset_row(monkeypatch: pytest.MonkeyPatch) -> None:
    inputs = Inputs(hosts=4, ports=16, projects=2)
    inputs.store_all()
    rebuild()
    assert path_graph.current_indexed().how == "built"
    a_port_down(inputs)
    rebuild()
    assert path_graph.current_indexed().how == "moved"  # a delta: moved on
    a_host_gone(inputs)
    restart_without_stored_graph(monkeypatch)
    indexed = path_graph.current_indexed()
    assert indexed.how == "built"  # a reset between: built, not moved on
    assert indexed.topo.nodes == Topo(copy.deepcopy(GraphState.objects.get(id=1).graph), {}).nodes
    a_port_down(inputs)
    rebuild()
    assert path_graph.current_indexed().how == "moved"


def test_a_reset_row_touches_every_watch(history: dict[int, JsonDict]) -> None:
    moved = sorted(touched_ids(g.diff(history[1], history[2])))
    near = Watch.objects.create(user_id="u", user_name="u", src="a", dst="b", hops=moved[:1])
    far = Watch.objects.create(user_id="u", user_name="u", src="c", dst="d", hops=["port:not-there"])
    assert touched(2) == [near]  # a delta: the watches whose hops it touches
    assert set(touched(3)) == {near, far}  # a reset: every watch re-checked
