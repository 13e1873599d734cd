"""The path explainer at a past revision (``GET /api/v1/path/?...&at=<revision>``): the map's timeline
shows a past revision, and the path overlay shows the path as it was then.

The graph is the one topology.history.past rebuilds for the map at that revision (kept per
process), indexed for walks (``Topo``) once per revision, and, for a project member, seen through
topology.scope as the live path API sees the current graph (topology/path_view.py, path_scope.py): the same
redaction, the same 404 for an endpoint they do not see at that revision. The hosts' reports are
not in the history (only the latest is kept): a past walk reads today's iptables rules and
OpenFlow flows, and the answer says so (``past.note``).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from topology.history.past import RevisionKey, kept, past_graph, revision_key
from topology.join.gcpause import gc_paused
from topology.path import Topo
from topology.path_scope import Secrets
from topology.path_view import TokenCount, project_view_of

PAST_TOPOS_KEPT = 2  # the indexed graph of a big cloud is hundreds of MB, as the replayed graph is
PAST_VIEWS_KEPT = 16
REPORTS_NOTE = (
    "the graph as it was at this revision; the hosts' iptables rules and OpenFlow flows are today's "
    "(only the latest report of each host is kept)"
)

_TOPOS: OrderedDict[RevisionKey, tuple[dict[str, Any], Topo]] = OrderedDict()
_VIEWS: OrderedDict[tuple[RevisionKey, str], tuple[dict[str, Any], Secrets]] = OrderedDict()
_TOKENS: OrderedDict[RevisionKey, TokenCount] = OrderedDict()


def past_indexed(revision: int) -> tuple[RevisionKey, dict[str, Any], Topo]:
    """The graph at ``revision`` and its Topo (UnknownRevision, HistoryGap as the map's past API raises them)."""
    key = revision_key(revision)
    if key in _TOPOS:
        _TOPOS.move_to_end(key)
        graph, topo = _TOPOS[key]
    else:
        with gc_paused():  # the replay and the index: millions of objects, no cycle (topology/path_graph.py)
            graph = past_graph(key)
            graph, topo = kept(_TOPOS, key, (graph, Topo(graph, {})), PAST_TOPOS_KEPT)
    return key, graph, topo


def past_project_view(key: RevisionKey, topo: Topo, scope: str) -> tuple[dict[str, Any], Secrets]:
    """What project ``scope`` saw of the graph at ``key`` and the tokens it may not see, kept per process:
    made from its Topo as the live one is (topology/path_view.py), the logical objects' tokens counted
    once per revision for every project that asks."""
    cache_key = (key, scope)
    if cache_key in _VIEWS:
        _VIEWS.move_to_end(cache_key)
        return _VIEWS[cache_key]
    with gc_paused():
        if key in _TOKENS:
            _TOKENS.move_to_end(key)
            tokens = _TOKENS[key]
        else:
            tokens = kept(_TOKENS, key, TokenCount.of(topo.nodes.values()), PAST_TOPOS_KEPT)
        view = project_view_of(topo, tokens, scope)
    kept(_VIEWS, cache_key, view, PAST_VIEWS_KEPT)
    return view


def past_marker(key: RevisionKey, live_revision: int) -> dict[str, Any]:
    """The answer's ``past``: which revision the path is explained at, when it was made, and what is today's."""
    return {"revision": key[0], "at": key[1], "live_revision": live_revision, "note": REPORTS_NOTE}


def forget() -> None:
    _TOPOS.clear()
    _VIEWS.clear()
    _TOKENS.clear()
