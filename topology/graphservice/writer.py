"""The one writer: the graph in memory by part, re-joined and persisted by what changed.

:class:`GraphWriter` holds its inputs (topology/graphservice/inputs.py), the join's
cache (``services.JOIN_CACHE``: the join re-does only the parts whose input
changed), the current graph and its partition. :meth:`GraphWriter.apply` re-reads
the inputs named, re-joins, makes the delta by identity (delta.py), bumps the
revision if the graph changed, rewrites the parts the delta touched and publishes
the delta. The graph is the same as a cold join of the same inputs.

A host report that leaves what the cross joins read of it as it was (the common case:
an interface's state, a counter, a marker device) is re-joined alone (rejoin.py): that
host's part and host node made again, the delta from its old vs new part, the graph
changed in place, O(change); anything else joins the whole graph from the cached parts.

Before each apply the writer checks that the stored revision is the one it wrote
last; if not (its first apply, another writer, a reset database) it syncs from the
database first: every input by digest and the stored graph by part.

A sync that finds no stored graph (a first start) makes no delta: the partition is made from
the joined graph's own keys, every part is written, the history row is a reset (a checkpoint, no
delta: topology/history/record.py ``record_reset``) and a reset is published (the maps reload).
A delta of the whole graph, its encoding for the history and the partition's own copies of every
edge key cost that start about 2 GB at 10,000 hosts (docs/benchmarks.md).
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from topology import graph as g
from topology.freshness import stale_hosts, stale_node
from topology.graphservice.delta import graph_delta, graph_json
from topology.graphservice.inputs import WriterInputs
from topology.graphservice.parts import HOST_PREFIX, Partition
from topology.graphservice.rejoin import HeldGraph, rejoin
from topology.graphservice.resync import has_stored_graph, stored_delta
from topology.graphservice.store import Written, clear_stored, write_parts
from topology.graphservice.summaries import audience_key, binders_of
from topology.history.record import record_reset, record_revision
from topology.join import JoinCache, JsonDict, join
from topology.kinds import EdgeKind, NodeKind
from topology.models import GRAPH_STATE_ID, GraphState

StateKey = tuple[int, datetime | None]


@dataclass
class Changed:
    """What changed in the inputs since the last apply, for a re-join of these hosts alone."""

    hosts: list[str]
    before: dict[str, JsonDict | None]  # their reports before they were read again


@dataclass
class Applied:
    """What one apply did (for benchmarks and logs)."""

    revision: int = 0
    changed: bool = False
    synced: bool = False  # the writer synced from the database first
    rejoined: bool = False  # only the changed hosts were re-joined (graphservice/rejoin.py), not the whole graph
    reset: bool = False  # no stored graph: every part written, no delta (a reset row, a reset published)
    rows_read: int = 0
    written: Written = field(default_factory=Written)
    seconds: float = 0.0


def mark_stale_nodes(graph: g.Graph, stale: dict[str, str]) -> None:
    """topology.freshness.mark_stale on the joined graph's own node dict (copies, never changes, a node)."""
    for host, since in stale.items():
        node_id = g.host_id(host)
        node = graph.nodes.get(node_id)
        if node is not None:
            graph.nodes[node_id] = stale_node(node, since)


def scope_parts(partition: Partition, delta: g.Delta, old_nodes: Mapping[str, g.Node], held: HeldGraph) -> set[str]:
    """The host parts whose project rows (graphservice/summaries.py) the delta changed beyond the parts it
    touched: the ends of BINDS and tunnel edges added or removed, and the parts a logical node binds into
    once who sees it changed (its project, a network made shared or external)."""
    parts: set[str] = set()
    for edge in delta["added"]["edges"] + delta["removed"]["edges"]:
        if edge["kind"] in (EdgeKind.BINDS, EdgeKind.TUNNEL):
            parts.update(p for end in (edge["source"], edge["target"]) if (p := partition.of_node.get(end)))
    moved = [
        node["id"]
        for node in delta["changed"]["nodes"]
        if node["kind"] in NodeKind.LOGICAL
        and audience_key(node, held.nodes) != audience_key(old_nodes.get(node["id"]), old_nodes)
    ]
    networks = {node_id[len("network:") :] for node_id in moved if node_id.startswith("network:")}
    if networks:  # a public network's subnets are seen by every project
        moved += [
            node_id
            for node_id, node in held.nodes.items()
            if node["kind"] == NodeKind.SUBNET and node["attrs"].get("network_id") in networks
        ]
    for target in binders_of(moved, held.edges):
        part = partition.of_node.get(target)
        if part is not None:
            parts.add(part)
    return {part for part in parts if part.startswith(HOST_PREFIX)}


def release_freed_memory() -> None:
    """The C heap's free pages given back to the system (glibc's ``malloc_trim``; elsewhere nothing):
    what a sync freed otherwise stays in the writer's resident memory."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.malloc_trim(0)


def state_key() -> StateKey | None:
    row = GraphState.objects.the_row().values_list("revision", "generated_at").first()
    return (row[0], row[1]) if row else None


@dataclass
class GraphWriter:
    inputs: WriterInputs = field(default_factory=WriterInputs)
    held: HeldGraph = field(default_factory=HeldGraph)  # the graph (nodes, edges) and what a re-join needs
    partition: Partition = field(default_factory=Partition)
    written_key: StateKey | None = None  # the revision this writer stored (or synced from) last
    synced: bool = False  # the graph held was dropped by a sync: the stored graph is the one to diff
    last: Applied = field(default_factory=Applied)

    @property
    def nodes(self) -> dict[str, g.Node]:
        """The graph's nodes, in a cold join's order."""
        self.held.in_order()
        return self.held.nodes

    @property
    def edges(self) -> dict[g.EdgeKey, None]:
        """The graph's edges, in a cold join's order."""
        self.held.in_order()
        return self.held.edges

    def sync(self, cache: JoinCache) -> None:
        """Every input read again (the join's cache stays: it is keyed by input); the graph held is
        dropped: the next join is compared with the stored graph, part by part (resync.py)."""
        self.held, self.partition, self.synced = HeldGraph(), Partition(), True
        self.inputs.sync_cloud(force=True)
        self.inputs.sync_all_hosts(cache)

    def apply(
        self, cache: JoinCache, hosts: Collection[str] = (), cloud: bool = False, everything: bool = False
    ) -> GraphState:
        """Apply what changed: these ``hosts``' reports, the cloud snapshot, or ``everything`` (each input
        compared by its stored digest). The caller holds the join's lock."""
        started = time.perf_counter()
        for _ in range(3):
            applied = Applied()
            self.inputs.rows_read = 0
            seen = state_key()
            changed: Changed | None = None
            if seen is None or seen != self.written_key:
                self.sync(cache)
                applied.synced = True
            elif everything:
                cloud_changed = self.inputs.sync_cloud()
                before: dict[str, JsonDict | None] = dict(self.inputs.reports)
                changed = None if cloud_changed else Changed(self.inputs.sync_all_hosts(cache), before)
                if cloud_changed:
                    self.inputs.sync_all_hosts(cache)
            else:
                cloud_changed = self.inputs.sync_cloud() if cloud else False
                before = {host: self.inputs.reports.get(host) for host in hosts}
                if hosts:
                    self.inputs.sync_hosts(hosts)
                changed = None if cloud_changed else Changed(list(hosts), before)
            state = self.join_and_store(cache, seen, applied, changed)
            if applied.synced:
                release_freed_memory()  # a sync's temporaries (the stored parts read, the reports parsed)
            if state is not None:
                applied.rows_read = self.inputs.rows_read
                applied.seconds = time.perf_counter() - started
                self.last = applied
                return state
            self.written_key = None  # another writer stored a revision meanwhile: sync and join again
        raise RuntimeError("the graph's revision kept changing under this writer")

    def join_and_store(
        self, cache: JoinCache, seen: StateKey | None, applied: Applied, changed: Changed | None = None
    ) -> GraphState | None:
        inputs = self.inputs
        inputs.full_reports(cache)
        now = timezone.now()
        stale = stale_hosts(inputs.received, now, timedelta(seconds=settings.HOST_STALE_SECONDS))
        held = self.held
        old_nodes: Mapping[str, g.Node] = held.nodes  # a re-join changes host parts in place: logical nodes stay
        partition = self.partition
        delta: g.Delta | None = None  # None after the join: a reset (no stored graph, no delta made)
        if changed is not None and not self.synced:
            delta = rejoin(cache, inputs, held, changed.hosts, changed.before, stale)
        if delta is not None:
            applied.rejoined = True
        else:
            graph = join(inputs.cloud, inputs.reports, cache=cache, digests=inputs.digests())
            joined_hosts = {h: graph.nodes[g.host_id(h)] for h in inputs.reports if g.host_id(h) in graph.nodes}
            mark_stale_nodes(graph, stale)
            if self.synced and not has_stored_graph():  # every part written, no delta: a reset
                partition = Partition.of_graph(graph.nodes, graph.edges)  # the graph's own keys
            elif self.synced:
                resynced = stored_delta(graph.nodes, graph.edges)
                delta, partition, old_nodes = resynced.delta, resynced.partition, resynced.old_nodes
            else:
                delta = graph_delta(self.nodes, self.edges, graph.nodes, graph.edges)
            held = HeldGraph(graph.nodes, graph.edges, joined_hosts, stale)
        inputs.slim(cache)
        with transaction.atomic():
            state, _ = GraphState.objects.select_for_update().get_or_create(id=GRAPH_STATE_ID)
            if seen is not None and (state.revision, state.generated_at) != seen:
                return None
            self.held, self.partition, self.synced = held, partition, False
            unchanged = not held.nodes and not held.edges if delta is None else g.is_empty(delta)
            if unchanged and state.revision:
                self.written_key = (state.revision, state.generated_at)
                applied.revision = state.revision
                return state
            state.revision += 1
            state.generated_at = now
            state.save(update_fields=["revision", "generated_at"])
            if delta is None:
                applied.written = self.store_reset(state)
            else:
                applied.written = self.store_delta(state, delta, old_nodes)
            self.written_key = (state.revision, state.generated_at)
        applied.revision, applied.changed, applied.reset = state.revision, True, delta is None
        from topology import services  # services calls the writer: imported late

        if delta is None:
            services.publish_reset(state.revision)
        else:
            services.publish_delta(state.revision, delta)
        return state

    def store_delta(self, state: GraphState, delta: g.Delta, old_nodes: Mapping[str, g.Node]) -> Written:
        """The parts ``delta`` touched rewritten and its history row (inside the revision's transaction)."""
        touched = self.partition.apply(delta)
        scopes = scope_parts(self.partition, delta, old_nodes, self.held)
        written = write_parts(self.partition, self.held.nodes, touched, state.revision, scopes)
        record_revision(state, delta, lambda: graph_json(self.nodes, self.edges), lambda: self.nodes.values())
        return written

    def store_reset(self, state: GraphState) -> Written:
        """Every part written (what no stored part held before) and a reset history row: a checkpoint, no delta."""
        clear_stored()
        written = write_parts(self.partition, self.held.nodes, list(self.partition.parts), state.revision)
        sizes = (len(self.held.nodes), len(self.held.edges))
        record_reset(state, lambda: graph_json(self.nodes, self.edges), lambda: self.nodes.values(), sizes)
        return written
