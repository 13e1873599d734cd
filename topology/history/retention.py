"""Retention of the graph's history: by age and by size, never leaving a revision without its checkpoint.

Run by the prune beat task (tasks.retention.PRUNERS). History is cut only at a
checkpoint: everything before the cut goes, the checkpoint stays, so every revision
still kept can be rebuilt. By age: the cut is the newest checkpoint at or before the
oldest revision younger than RETAIN_HISTORY_DAYS (a little older history stays, up
to one checkpoint interval). By size: while the rows weigh more than RETAIN_HISTORY_MB,
the cut moves to the next checkpoint (the newest checkpoint is never cut past).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Sum

from topology.history import checkpoint_nodes
from topology.history.models import GraphRevision


def checkpoints() -> list[int]:
    return list(
        GraphRevision.objects.filter(checkpoint_gz__isnull=False)
        .order_by("revision")
        .values_list("revision", flat=True)
    )


def age_cut(now: datetime, kept: list[int]) -> int | None:
    bound = now - timedelta(days=settings.RETAIN_HISTORY_DAYS)
    first_young = GraphRevision.objects.filter(at__gte=bound).order_by("revision").values_list("revision", flat=True)
    oldest = first_young.first()
    if oldest is None:  # all of it is old: keep only from the newest checkpoint
        return kept[-1] if kept else None
    older = [c for c in kept if c <= oldest]
    return older[-1] if older else None


def size_cut(cut: int | None, kept: list[int]) -> int | None:
    limit = settings.RETAIN_HISTORY_MB * 1024 * 1024
    for checkpoint in [c for c in kept if cut is None or c >= cut]:
        total = GraphRevision.objects.filter(revision__gte=checkpoint).aggregate(total=Sum("size"))["total"] or 0
        if total <= limit or checkpoint == kept[-1]:
            return checkpoint
    return cut


def prune_history(now: datetime) -> int:
    """Delete the revisions older than the retention's cut; how many rows."""
    kept = checkpoints()
    if not kept:
        return 0
    cut = size_cut(age_cut(now, kept), kept)
    if cut is None:
        return 0
    deleted, _ = GraphRevision.objects.filter(revision__lt=cut).delete()
    checkpoint_nodes.prune_before(cut)
    return deleted
