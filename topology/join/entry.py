"""The join itself: cold, or from a JoinCache's parts (with quarantine of a part that breaks it)."""

from __future__ import annotations

from collections.abc import Mapping

from topology import graph as g
from topology import quarantine
from topology.drift import dnat_rules, mark_drift
from topology.join.binding import PortBinder
from topology.join.cache import InputDigests, JoinCache
from topology.join.cross import add_hosts, add_tunnels, bind_namespaces
from topology.join.gcpause import gc_paused
from topology.join.host import host_physical
from topology.join.logical import LogicalPart, logical_part
from topology.join.parts import CloudSnapshot, HostIndex, HostPhysical, JsonDict
from topology.join.rejoin import CrossState


def join(
    cloud: CloudSnapshot,
    reports: Mapping[str, JsonDict],
    cache: JoinCache | None = None,
    digests: InputDigests | None = None,
) -> g.Graph:
    """Join the cloud snapshot with each host's latest agent report into one graph.

    With a ``cache``, the parts whose input did not change since the cache's last
    join are reused (the graph is the same); the graph then shares node dicts
    with the cache: read it, do not change it. ``digests``: the inputs' digests
    as :func:`digest` made them when they were stored (those missing are computed).
    """
    with gc_paused():
        if cache is None:
            return join_cold(cloud, reports)
        digests = digests or InputDigests()
        cache.cross = None  # made again by the join from parts below
        logical = cache.logical_part(cloud, digests.cloud)
        before = dict(cache.hosts)
        pieces = cache.host_parts(reports, digests.reports)
        try:
            return join_parts(logical, pieces, reports, cache)
        except Exception as exc:
            # A part made afresh broke the cross joins (a join bug a report found): those parts
            # are quarantined, their last good ones stand in, and the rest of the cloud joins.
            # join_parts copies the nodes it changes, so the cached parts are as they were.
            if not cache.rebuilt_hosts:
                raise
            rebuilt = list(cache.rebuilt_hosts)

            def joins_with(new: set[str]) -> bool:
                """Whether the join succeeds with only these hosts' new parts (the others' from ``before``)."""
                trial = {
                    host: piece if host not in rebuilt or host in new else before[host][1]
                    for host, piece in pieces.items()
                    if host not in rebuilt or host in new or host in before
                }
                try:
                    join_parts(logical, trial, reports, cache)
                except Exception:
                    return False
                return True

            cache.fail_hosts(before, quarantine.culprits(rebuilt, joins_with), exc)
            pieces = cache.host_parts(reports, digests.reports)
            return join_parts(logical, pieces, reports, cache)


def join_cold(cloud: CloudSnapshot, reports: Mapping[str, JsonDict]) -> g.Graph:
    """The join without a cache: the graph is made in the parts' own dicts, host by host."""
    logical = logical_part(cloud)
    graph = g.Graph(nodes=logical.nodes, edges=logical.edges)
    tunnels = add_hosts(graph, logical, reports)
    binder = PortBinder.start(graph, logical)
    indexes: dict[str, HostIndex] = {}
    for host, report in sorted(reports.items()):
        piece, failed = quarantine.build_part(host, report, host_physical)
        if piece is None or failed is not None:
            graph.warn(g.host_id(host), (failed or quarantine.not_encodable(host)).warning(host))
            continue
        graph.nodes.update(piece.nodes)
        graph.edges.update(piece.edges)
        indexes[host] = piece.index
        binder.host(host, piece.index)
    add_tunnels(graph, indexes, tunnels)
    binder.finish(indexes)
    bind_namespaces(graph, logical, indexes)
    mark_drift(graph, logical, indexes, reports)
    return graph


def join_parts(
    logical: LogicalPart,
    pieces: Mapping[str, HostPhysical],
    reports: Mapping[str, JsonDict],
    cache: JoinCache,
) -> g.Graph:
    """The cross joins of cached parts: the logical part, host nodes and each host's physical part
    in one graph, which shares the parts' nodes and copies those it changes."""
    graph = g.Graph(nodes=dict(logical.nodes), edges=dict(logical.edges), owned=set())
    tunnels = add_hosts(graph, logical, reports)
    for host, failed in cache.quarantined.items():
        graph.warn(g.host_id(host), failed.warning(host))
    for piece in pieces.values():
        graph.nodes.update(piece.nodes)
        graph.edges.update(piece.edges)
    indexes = {host: piece.index for host, piece in pieces.items()}
    add_tunnels(graph, indexes, tunnels)
    binder = PortBinder.start(graph, logical, cache.described)
    for host, index in indexes.items():
        binder.host(host, index)
    cache.described = binder.finish(indexes)
    bind_namespaces(graph, logical, indexes)
    rules = dnat_rules(reports)
    mark_drift(graph, logical, indexes, reports, rules)
    # what a re-join of a few hosts reads (topology/join/rejoin.py); none while a host is quarantined
    cache.cross = None if cache.quarantined else CrossState(logical, frozenset(pieces), dict(tunnels), rules)
    return graph
