"""Recording a revision: its delta always, the whole graph at checkpoints (called by the graph service).

A reset (:func:`record_reset`: the writer's start with no stored graph) is recorded as a checkpoint with
no delta: encoding the whole first graph as a delta too cost the writer its peak memory (docs/benchmarks.md).

:func:`record_revision` runs inside the transaction that bumps the revision
(topology/graphservice/writer.py), so a revision and its history row commit together
and the rows stay contiguous. A checkpoint is written when there is no row for the
previous revision (the first revision, or a gap), every HISTORY_CHECKPOINT_EVERY
revisions, or once the deltas since the last checkpoint weigh as much as it does: a
replay then reads at most about twice a checkpoint's bytes.

The writer keeps that tally itself (:class:`Tally`, updated when each revision commits) instead
of reading the sizes back inside the graph's write lock; it asks the rows afresh whenever the row
before is not the one it counted.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from topology import graph as g
from topology.history import checkpoint_nodes
from topology.history.causes import RESET_CAUSE, infer_causes
from topology.history.delta import CHECKPOINT_GZIP_LEVEL, DELTA_GZIP_LEVEL, encode
from topology.history.models import GraphRevision
from topology.models import GraphState
from topology.watches.tasks import after_revision


@dataclass(frozen=True)
class Tally:
    """What decides the next checkpoint, as of row ``revision`` (recorded ``at``) that this process saw
    committed: the last checkpoint's revision and size, and the bytes of the rows after it."""

    revision: int
    at: datetime
    checkpoint: int
    checkpoint_size: int
    since: int


# Kept by the one writer between its revisions (reading the sizes back costs three queries and, on SQLite,
# a walk through every delta's pages to reach the column after them). Used only when the row before the
# one being recorded is the very row it counted (revision and time): another writer's turn, a reset or a
# new database asks the rows afresh.
_tally: Tally | None = None


def tally_after(revision: int, at: datetime) -> Tally | None:
    """The checkpoint and the bytes after it, as of row ``revision`` recorded ``at``."""
    global _tally
    if _tally is not None and (_tally.revision, _tally.at) == (revision, at):
        return _tally
    last = GraphRevision.objects.filter(checkpoint_gz__isnull=False).order_by("-revision").values("revision", "size")
    checkpoint = last.first()
    if checkpoint is None:
        return None
    since = GraphRevision.objects.filter(revision__gt=checkpoint["revision"]).aggregate(total=Sum("size"))["total"]
    _tally = Tally(revision, at, checkpoint["revision"], checkpoint["size"], since or 0)  # committed rows only
    return _tally


def needs_checkpoint(revision: int, previous_at: datetime | None, delta_bytes: int) -> bool:
    if previous_at is None:
        return True
    tally = tally_after(revision - 1, previous_at)
    if tally is None or revision - tally.checkpoint >= settings.HISTORY_CHECKPOINT_EVERY:
        return True
    return tally.since + delta_bytes >= tally.checkpoint_size


def counted(previous_at: datetime | None, revision: int, at: datetime, size: int, checkpoint: bool) -> None:
    """After the commit of row ``revision``: the tally the next revision starts from (none: asked afresh)."""
    global _tally
    before = _tally
    if checkpoint:
        _tally = Tally(revision, at, revision, size, 0)
    elif before is not None and previous_at is not None and (before.revision, before.at) == (revision - 1, previous_at):
        _tally = Tally(revision, at, before.checkpoint, before.checkpoint_size, before.since + size)
    else:
        _tally = None


def gzipped(chunks: Iterable[bytes], level: int) -> bytes:
    """The chunks gzipped as one member (gzip.decompress gives their concatenation), never joined first."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)  # wbits 16 + 15: a gzip header and trailer
    out = [compressor.compress(chunk) for chunk in chunks]
    out.append(compressor.flush())
    return b"".join(out)


def record_revision(
    state: GraphState,
    delta: g.Delta,
    graph_bytes: Callable[[], Iterable[bytes]],
    nodes: Callable[[], Iterable[g.Node]],
) -> GraphRevision:
    """Keep revision ``state.revision`` (just saved) and its delta; ``graph_bytes``: the whole graph at that
    revision as orjson (in chunks), ``nodes``: its nodes, both asked for only when a checkpoint is written,
    which is stored whole (gzip) and its nodes by bucket (topology/history/checkpoint_nodes.py)."""
    from topology.metrics import DELTA_LATENCY

    at, previous_at = make_room(state)
    causes, lag = infer_causes(delta, previous_at, at)
    delta_gz = encode(delta, DELTA_GZIP_LEVEL)
    checkpoint = None
    if needs_checkpoint(state.revision, previous_at, len(delta_gz)):
        checkpoint = write_checkpoint(state.revision, at, graph_bytes, nodes)
    if lag is not None:
        DELTA_LATENCY.observe(lag)
    row = GraphRevision(
        revision=state.revision,
        at=at,
        causes=causes,
        delta_gz=delta_gz,
        checkpoint_gz=checkpoint,
        added_nodes=len(delta["added"]["nodes"]),
        removed_nodes=len(delta["removed"]["nodes"]),
        changed_nodes=len(delta["changed"]["nodes"]),
        added_edges=len(delta["added"]["edges"]),
        removed_edges=len(delta["removed"]["edges"]),
        writer_lag=lag,
    )
    return committed(row, previous_at)


def record_reset(
    state: GraphState,
    graph_bytes: Callable[[], Iterable[bytes]],
    nodes: Callable[[], Iterable[g.Node]],
    sizes: tuple[int, int],
) -> GraphRevision:
    """Keep revision ``state.revision`` as a reset: a checkpoint and no delta (the writer wrote the whole
    graph, ``sizes`` its nodes and edges, without diffing it with anything). Its counts are the whole
    graph's, as added; what it changed is its checkpoint against the revision before (replay.reset_delta)."""
    at, previous_at = make_room(state)
    row = GraphRevision(
        revision=state.revision,
        at=at,
        causes=[RESET_CAUSE],
        delta_gz=b"",
        reset=True,
        checkpoint_gz=write_checkpoint(state.revision, at, graph_bytes, nodes),
        added_nodes=sizes[0],
        added_edges=sizes[1],
    )
    return committed(row, previous_at)


def make_room(state: GraphState) -> tuple[datetime, datetime | None]:
    """The new row's time and the previous row's (None: no row for the revision before). Rows at or past
    this revision belong to a graph state that was reset (a new database row): gone."""
    at = state.generated_at or timezone.now()
    GraphRevision.objects.filter(revision__gte=state.revision).delete()
    checkpoint_nodes.drop_from(state.revision)
    previous_at = GraphRevision.objects.filter(revision=state.revision - 1).values_list("at", flat=True).first()
    return at, previous_at


def write_checkpoint(
    revision: int, at: datetime, graph_bytes: Callable[[], Iterable[bytes]], nodes: Callable[[], Iterable[g.Node]]
) -> bytes:
    """The whole graph gzipped in pieces; its nodes by bucket written beside it."""
    checkpoint = gzipped(graph_bytes(), CHECKPOINT_GZIP_LEVEL)
    checkpoint_nodes.write(revision, at, nodes())
    return checkpoint


def committed(row: GraphRevision, previous_at: datetime | None) -> GraphRevision:
    """``row`` saved; once committed, the watches checked and the checkpoint tally moved on."""
    row.size = len(row.delta_gz) + len(row.checkpoint_gz or b"")
    transaction.on_commit(functools.partial(after_revision, row.revision))  # watched paths (topology/watches/)
    is_checkpoint = row.checkpoint_gz is not None
    transaction.on_commit(functools.partial(counted, previous_at, row.revision, row.at, row.size, is_checkpoint))
    row.save(force_insert=True)
    return row
