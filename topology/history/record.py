"""Recording a revision: its delta always, the whole graph at checkpoints (called by the graph service).

:func:`record_revision` runs inside the transaction that bumps the revision
(topology/graphservice/writer.py), so a revision and its history row commit together
and the rows stay contiguous. A checkpoint is written when there is no row for the
previous revision (the first revision, or a gap), every HISTORY_CHECKPOINT_EVERY
revisions, or once the deltas since the last checkpoint weigh as much as it does: a
replay then reads at most about twice a checkpoint's bytes.
"""

from __future__ import annotations

import functools
import gzip
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from topology import graph as g
from topology.history.causes import infer_causes
from topology.history.delta import CHECKPOINT_GZIP_LEVEL, DELTA_GZIP_LEVEL, encode
from topology.history.models import GraphRevision
from topology.models import GraphState
from topology.watches.tasks import after_revision


def needs_checkpoint(revision: int, has_previous: bool, delta_bytes: int) -> bool:
    if not has_previous:
        return True
    last = GraphRevision.objects.filter(checkpoint_gz__isnull=False).order_by("-revision").values("revision", "size")
    checkpoint = last.first()
    if checkpoint is None or revision - checkpoint["revision"] >= settings.HISTORY_CHECKPOINT_EVERY:
        return True
    since = GraphRevision.objects.filter(revision__gt=checkpoint["revision"]).aggregate(total=Sum("size"))["total"]
    return (since or 0) + delta_bytes >= checkpoint["size"]


def record_revision(state: GraphState, delta: g.Delta, graph_bytes: Callable[[], bytes]) -> GraphRevision:
    """Keep revision ``state.revision`` (just saved) and its delta; ``graph_bytes``: the whole
    graph at that revision as orjson, asked for only when a checkpoint is written."""
    from topology.metrics import DELTA_LATENCY

    at = state.generated_at or timezone.now()
    # Rows at or past this revision belong to a graph state that was reset (a new database row): gone.
    GraphRevision.objects.filter(revision__gte=state.revision).delete()
    previous_at = GraphRevision.objects.filter(revision=state.revision - 1).values_list("at", flat=True).first()
    causes, lag = infer_causes(delta, previous_at, at)
    delta_gz = encode(delta, DELTA_GZIP_LEVEL)
    checkpoint = None
    if needs_checkpoint(state.revision, previous_at is not None, len(delta_gz)):
        checkpoint = gzip.compress(graph_bytes(), compresslevel=CHECKPOINT_GZIP_LEVEL)
    if lag is not None:
        DELTA_LATENCY.observe(lag)
    transaction.on_commit(functools.partial(after_revision, state.revision))  # watched paths (topology/watches/)
    return GraphRevision.objects.create(
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
        size=len(delta_gz) + len(checkpoint or b""),
        writer_lag=lag,
    )
