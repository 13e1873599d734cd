"""The deltas a "what changed" question reads (topology/history/changes.py), kept per process.

A window's rows are immutable once written (a reset graph state deletes them and writes new
ones with new ids and times), so the decoded deltas are kept per process keyed by (row id,
revision, time) and a later question reads from the database only the rows' times and causes,
and the deltas of rows it has not seen (the same rows as the last question: its indexed
:class:`History` itself). The checkpoint the window starts from is kept too
(the last one asked for), with the nodes already looked up in it: read from the checkpoint's
buckets (topology/history/checkpoint_nodes.py: a few kB per node's bucket), or, for a checkpoint
written without them, from its gunzipped bytes, scanned once per node id.

A reset row after the window's checkpoint (the writer wrote the whole graph without a delta) stands
for what it changed: its checkpoint diffed with the graph replayed to the revision before it, made
once per process like any other delta; the walk back reads it as any revision.
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from datetime import datetime, timedelta
from typing import cast

import orjson

from topology import graph as g
from topology.history import checkpoint_nodes
from topology.history.causes import Cause
from topology.history.delta import decode
from topology.history.models import GraphRevision
from topology.history.replay import reset_delta

WINDOW = timedelta(hours=24)
ABSENT = None
BATCH = 500  # rows' deltas read per query
RowKey = tuple[int, int, datetime]  # (row id, revision, at)
_DELTAS: dict[RowKey, g.Delta] = {}
_CHECKPOINTS: dict[RowKey, Checkpoint] = {}
_HISTORIES: dict[tuple[RowKey, RowKey | None, RowKey | None, int], History] = {}


def forget() -> None:
    """Drop what this process keeps (the benchmark's cold runs; tests that rewrite rows in place)."""
    _DELTAS.clear()
    _CHECKPOINTS.clear()
    _HISTORIES.clear()


class Checkpoint:
    """One checkpoint's nodes, looked up by id: in its row's bucket of nodes (checkpoint_nodes.py) when it
    has them and ``at`` is known, else in its bytes (a node's object starts ``{"id":...,``)."""

    def __init__(self, revision: int, blob: bytes | None = None, at: datetime | None = None) -> None:
        self.revision = revision
        self.blob = blob  # gunzipped; None: read from its row when first needed
        self.at = at  # the row's time: its buckets are looked for (None: the bytes only)
        self.found: dict[str, g.Node | None] = {}
        self.nodes_end = -1  # where the nodes' list ends in the blob (-1: not known yet)

    def node(self, node_id: str) -> g.Node | None:
        if node_id not in self.found:
            self.found[node_id] = self.from_bucket(node_id)
        return self.found[node_id]

    def from_bucket(self, node_id: str) -> g.Node | None:
        """The node from its bucket's row (every node of that bucket kept as found), or from the bytes."""
        bucket = checkpoint_nodes.read(self.revision, self.at, node_id) if self.at is not None else None
        if bucket is None:
            self.at = None  # written without buckets: the bytes from now on
            return self.lookup(node_id)
        for other, node in bucket.items():
            self.found.setdefault(other, node)
        return bucket.get(node_id)

    def lookup(self, node_id: str) -> g.Node | None:
        if self.blob is None:
            row = GraphRevision.objects.filter(revision=self.revision).values_list("checkpoint_gz", flat=True).first()
            self.blob = gzip.decompress(bytes(row)) if row else b""
        if self.nodes_end < 0:
            self.nodes_end = nodes_end(self.blob)
        start = self.blob.find(b'{"id":' + orjson.dumps(node_id) + b",", 0, self.nodes_end)
        if start < 0:
            return None
        size = 1 << 16
        while True:
            text = self.blob[start : start + size].decode("utf-8", errors="ignore")
            try:
                node, _ = json.JSONDecoder().raw_decode(text)
                return node if isinstance(node, dict) else None
            except ValueError:
                if start + size >= len(self.blob):
                    return None
                size *= 4


EDGES_AFTER_NODES = b'],"edges":['


def nodes_end(blob: bytes) -> int:
    """The end of the nodes' list in a graph's orjson (``{"nodes":[...],"edges":[...]}``): a node's id is
    searched before it only (a third of a cloud's bytes are edges); the whole blob when not sure."""
    if blob.startswith(b'{"nodes":[') and blob.count(EDGES_AFTER_NODES) == 1:
        return blob.find(EDGES_AFTER_NODES)
    return len(blob)


class History:
    """The deltas of revisions ``(checkpoint, newest]``, indexed by node and by edge list."""

    def __init__(
        self, checkpoint: int, rows: list[tuple[int, datetime, list[Cause], g.Delta]], blob: bytes | None = None
    ) -> None:
        self.checkpoint = Checkpoint(checkpoint, blob)
        self.rows = rows  # oldest first
        # node id -> [(revision, node or None when removed)], oldest first
        self.node_sets: dict[str, list[tuple[int, g.Node | None]]] = defaultdict(list)
        # (node, kind, "out"/"inn") -> [(revision, other end, added?)]
        self.edge_moves: dict[tuple[str, str, str], list[tuple[int, str, bool]]] = defaultdict(list)
        for revision, _, _, delta in rows:
            for node_id in delta["removed"]["nodes"]:
                self.node_sets[node_id].append((revision, ABSENT))
            for node in (*delta["added"]["nodes"], *delta["changed"]["nodes"]):
                self.node_sets[node["id"]].append((revision, node))
            moves = [(e, False) for e in delta["removed"]["edges"]] + [(e, True) for e in delta["added"]["edges"]]
            if moves:
                for edge, added in moves:
                    source, target, kind = edge["source"], edge["target"], edge["kind"]
                    self.edge_moves[(source, kind, "out")].append((revision, target, added))
                    self.edge_moves[(target, kind, "inn")].append((revision, source, added))

    def node_at(self, node_id: str, revision: int, current: g.Node | None) -> g.Node | None:
        sets = self.node_sets.get(node_id)
        if not sets or sets[-1][0] <= revision:
            return current
        before = [node for r, node in sets if r <= revision]
        return before[-1] if before else self.checkpoint.node(node_id)


def checkpoint_of(key: RowKey) -> Checkpoint:
    """The checkpoint of row ``key`` (id, revision, at), kept per process: one at a time."""
    revision = key[1]
    if key not in _CHECKPOINTS:
        _CHECKPOINTS.clear()  # a checkpoint of a big cloud is ~100 MB gunzipped
        _CHECKPOINTS[key] = Checkpoint(revision, at=key[2])
    return _CHECKPOINTS[key]


def deltas_of(keys: list[RowKey]) -> list[g.Delta]:
    """The decoded deltas of these rows: read and decoded once per process, the rows no longer asked for dropped.
    A reset row's is its checkpoint diffed with the revision before (replay.reset_delta)."""
    missing = [key for key in keys if key not in _DELTAS]
    for start in range(0, len(missing), BATCH):
        chunk = {key[0]: key for key in missing[start : start + BATCH]}
        rows = GraphRevision.objects.filter(id__in=list(chunk)).values_list("id", "reset", "delta_gz")
        for row_id, reset, delta_gz in rows:
            key = chunk[row_id]
            _DELTAS[key] = reset_delta(key[1]) if reset else cast(g.Delta, decode(delta_gz))
    wanted = set(keys)
    for old in [key for key in _DELTAS if key not in wanted]:
        del _DELTAS[old]
    return [_DELTAS[key] for key in keys]


def load_history(newest: int, now: datetime) -> History | None:
    """The deltas from the checkpoint before the window (24 h, or what is kept) up to ``newest``."""
    start = GraphRevision.objects.filter(at__gte=now - WINDOW).order_by("revision").values_list("revision", flat=True)
    first = start.first() or newest
    checkpoint = (
        GraphRevision.objects.filter(revision__lte=first, checkpoint_gz__isnull=False)
        .order_by("-revision")
        .values_list("id", "revision", "at")
        .first()
    )
    if checkpoint is None:
        return None
    rows = GraphRevision.objects.filter(revision__gt=checkpoint[1], revision__lte=newest).order_by("revision")
    meta = list(rows.values_list("id", "revision", "at", "causes"))
    keys: list[RowKey] = [(row_id, revision, at) for row_id, revision, at, _ in meta]
    key = (checkpoint, keys[0] if keys else None, keys[-1] if keys else None, len(keys))
    if key in _HISTORIES:  # the same rows as the last question: its index too
        return _HISTORIES[key]
    deltas = deltas_of(keys)
    loaded = [(revision, at, causes, delta) for (_, revision, at, causes), delta in zip(meta, deltas, strict=True)]
    history = History(checkpoint[1], loaded)
    history.checkpoint = checkpoint_of(checkpoint)
    _HISTORIES.clear()
    _HISTORIES[key] = history
    return history
