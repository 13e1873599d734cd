"""Conditions in force when a path broke (topology/history/conditions.py), pure: the listing and its words.

A hand-made history (a checkpoint and deltas, as topology.history.changes.History reads them): the
L3 agent on c1 dies at revision 2 (a cloud refresh), its report times change at 3, the floating IP
moves at 5. At the break (5) the agent's death is listed with its own revision, time and cause;
one that was dead already at the checkpoint is listed "before the history kept"; one that died at
the break itself is a change, not repeated; an agent that came back and died again is in force
since its latest death; a host without (fresh) reports is a condition too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from topology.history.change_text import describe, headline
from topology.history.changes import History
from topology.history.conditions import in_force

T0 = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
CLOUD = [{"kind": "cloud"}]


def host(alive: bool, **attrs: Any) -> dict[str, Any]:
    agents = [{"agent_type": "L3 agent", "alive": alive}, {"agent_type": "Open vSwitch agent", "alive": True}]
    return {"id": "host:c1", "kind": "host", "label": "c1", "attrs": {"agents": agents, "reported": True, **attrs}}


def fip(port: str, fixed: str) -> dict[str, Any]:
    attrs = {"floating_ip_address": "192.168.1.20", "port_id": port, "fixed_ip_address": fixed}
    return {"id": "fip:f1", "kind": "fip", "label": "192.168.1.20", "attrs": attrs}


def delta(*changed: dict[str, Any]) -> dict[str, Any]:
    empty: dict[str, list[Any]] = {"nodes": [], "edges": []}
    return {"added": empty, "removed": empty, "changed": {"nodes": list(changed), "edges": []}}


def history(checkpoint_nodes: list[dict[str, Any]], *deltas: tuple[int, dict[str, Any]]) -> History:
    rows = [
        (r, T0 + timedelta(minutes=r), CLOUD if r != 5 else [{"kind": "job", "job": 9, "user": "demo"}], d)
        for r, d in deltas
    ]
    blob = orjson.dumps({"nodes": checkpoint_nodes, "edges": []})
    return History(1, rows, blob)  # type: ignore[arg-type]


def listed(h: History, current: dict[str, Any], at: int = 5) -> list[dict[str, Any]]:
    return in_force(h, {"host:c1", "fip:f1"}, at, at, current, h.checkpoint.node)


def test_an_agent_dead_before_the_break_is_listed_with_its_own_time_and_cause() -> None:
    h = history(
        [host(True), fip("p-a", "10.0.0.5")],
        (2, delta(host(False))),
        (3, delta(host(False, collected_at="x"))),
        (5, delta(fip("p-b", "10.0.0.7"))),
    )
    current = {"host:c1": host(False, collected_at="x"), "fip:f1": fip("p-b", "10.0.0.7")}
    (dead,) = listed(h, current)
    assert dead == {
        "node": "host:c1",
        "condition": "the L3 agent on c1 dead",
        "revision": 2,
        "in_force_since": (T0 + timedelta(minutes=2)).isoformat(),
        "cause": "cloud refresh",
        "causes": CLOUD,
    }
    # Before the agent died nothing was in force; an OVS agent alive is no condition.
    assert listed(h, current, at=1) == []


def test_dead_since_before_the_history_at_the_break_itself_and_dead_again() -> None:
    current = {"host:c1": host(False), "fip:f1": fip("p-b", "10.0.0.7")}
    always = history([host(False), fip("p-a", "10.0.0.5")], (5, delta(fip("p-b", "10.0.0.7"))))
    (old,) = listed(always, current)
    assert (old["revision"], old["in_force_since"], old["cause"]) == (None, None, "before the history kept")
    at_break = history([host(True), fip("p-a", "10.0.0.5")], (5, delta(host(False), fip("p-b", "10.0.0.7"))))
    assert listed(at_break, current) == []  # the death is one of the break's changes (describe says it)
    again = history([host(False)], (2, delta(host(True))), (4, delta(host(False))), (5, delta(fip("p-b", "10.0.0.7"))))
    (latest,) = listed(again, current)
    assert latest["revision"] == 4


def test_a_host_without_reports_or_without_fresh_ones() -> None:
    silent = {**host(True), "attrs": {"agents": [], "reported": False}}
    h = history([host(True)], (3, delta(silent)), (5, delta(fip("p-b", "10.0.0.7"))))
    (none,) = listed(h, {"host:c1": silent})
    assert (none["condition"], none["revision"]) == ("host c1 sends no agent report", 3)
    old = "2026-12-03T10:02:00+00:00"
    stale = host(True, stale=old)
    h = history([host(True)], (4, delta(stale)), (5, delta(fip("p-b", "10.0.0.7"))))
    (late,) = listed(h, {"host:c1": stale})
    assert (late["condition"], late["revision"]) == (f"no fresh report from host c1 since {old}", 4)


def test_the_words_of_a_floating_ip_moved_and_the_headline_with_what_is_in_force() -> None:
    assert describe(fip("p-a", "10.0.0.5"), fip("p-b", "10.0.0.7"), "fip:f1") == [
        "floating IP 192.168.1.20 associated with 10.0.0.7 (was 10.0.0.5)"
    ]
    assert describe(fip("", ""), fip("p-b", "10.0.0.7"), "fip:f1") == [
        "floating IP 192.168.1.20 associated with 10.0.0.7"
    ]
    assert describe(fip("p-b", "10.0.0.7"), fip("", ""), "fip:f1") == [
        "floating IP 192.168.1.20 disassociated (was 10.0.0.7)"
    ]
    since: dict[str, Any] = {
        "verdict": "broken",
        "verdict_since": {"revision": 5, "at": "2026-12-03T10:05:00+00:00", "was": "ok"},
        "changes": [
            {
                "revision": 5,
                "node": "fip:f1",
                "change": "floating IP 192.168.1.20 associated with 10.0.0.7",
                "cause": "job 9 by demo",
            }
        ],
        "in_force": [
            {
                "node": "host:c1",
                "condition": "the L3 agent on c1 dead",
                "revision": 2,
                "in_force_since": "2026-12-03T10:02:00+00:00",
                "cause": "cloud refresh",
            }
        ],
    }
    assert headline(since) == (
        "broken since 10:05 UTC: floating IP 192.168.1.20 associated with 10.0.0.7 (job 9 by demo); "
        "in force since 10:02 UTC: the L3 agent on c1 dead (cloud refresh)"
    )
    since["in_force"][0].update(revision=None, in_force_since=None)
    assert headline(since).endswith("; in force since before the history kept: the L3 agent on c1 dead")


def test_a_checkpoint_node_is_searched_among_the_nodes_only() -> None:
    """An edge or an attribute spelling a node's opening is not taken for the node (window.nodes_end)."""
    from topology.history.window import Checkpoint, nodes_end

    graph = {
        "nodes": [host(True), {"id": "port:p1", "kind": "port", "attrs": {"note": '{"id":"host:gone",'}}],
        "edges": [{"id": "host:gone", "source": "host:c1", "target": "port:p1", "kind": "hosts"}],
    }
    blob = orjson.dumps(graph)
    assert blob[: nodes_end(blob)].endswith(b"}") and blob[nodes_end(blob) :].startswith(b'],"edges":[')
    checkpoint = Checkpoint(1, blob)
    assert checkpoint.node("host:c1") == host(True)
    assert checkpoint.node("host:gone") is None  # only in an edge (an attribute's text is escaped)
    assert nodes_end(b'{"edges":[],"nodes":[]}') == len(b'{"edges":[],"nodes":[]}')  # not sure: all of it
