"""The history of the graph: one row per revision, its delta, and now and then the whole graph.

A row's ``delta_gz`` is the delta the graph service published for that revision
(topology.graph.Delta, orjson, gzip); a row with ``checkpoint_gz`` also holds the
whole graph at that revision, so a past revision is rebuilt from the nearest
checkpoint at or before it plus the deltas after it (topology.history.replay).

A ``reset`` row has no delta (``delta_gz`` empty) but a checkpoint: the writer wrote the whole graph
without diffing it with anything (its start with no stored graph: topology/graphservice/writer.py).
What it changed is its checkpoint against the graph of the revision before (topology.history.replay
``reset_delta``); a reader that cannot use that treats it as "everything changed".
"""

from __future__ import annotations

from typing import Any

from django.db import models


class GraphRevision(models.Model):
    """One revision of the joined graph: when, why (when known), what changed, how big."""

    revision = models.PositiveBigIntegerField(unique=True)
    at = models.DateTimeField(db_index=True)
    # [{"kind": "report", "host"}, {"kind": "cloud"}, {"kind": "stale", "host"},
    #  {"kind": "job", "job", "user", "project"}, {"kind": "reset"}]: inferred when the revision is recorded
    #  (causes.py).
    causes: models.JSONField[list[dict[str, Any]]] = models.JSONField(default=list)
    delta_gz = models.BinaryField()  # empty in a reset row
    reset = models.BooleanField(default=False, db_default=False)  # no delta, a checkpoint: written whole
    checkpoint_gz = models.BinaryField(null=True)
    added_nodes = models.PositiveIntegerField(default=0)
    removed_nodes = models.PositiveIntegerField(default=0)
    changed_nodes = models.PositiveIntegerField(default=0)
    added_edges = models.PositiveIntegerField(default=0)
    removed_edges = models.PositiveIntegerField(default=0)
    size = models.PositiveIntegerField(default=0, help_text="bytes stored: delta_gz + checkpoint_gz")
    # Seconds from the receipt of the oldest host report this revision applied to the revision.
    writer_lag = models.FloatField(null=True)

    class Meta:
        app_label = "topology"
        ordering = ("-revision",)
        indexes = [
            models.Index(
                fields=["revision"], name="graph_revision_checkpoints", condition=models.Q(checkpoint_gz__isnull=False)
            )
        ]

    def __str__(self) -> str:
        return f"revision {self.revision} at {self.at}"

    @property
    def is_checkpoint(self) -> bool:
        return self.checkpoint_gz is not None


class CheckpointNodes(models.Model):
    """A checkpoint's nodes cut into buckets by id (topology/history/checkpoint_nodes.py), written with it.

    "What changed" looks up a few nodes as the checkpoint holds them; one bucket's row is a few kB to
    read and decode where the checkpoint is tens of MB to gunzip and search. Keyed by the checkpoint's
    revision and time (a reset graph state writes new rows with new times) and by how many buckets it
    was cut into; pruned with the history (retention.py, record.py).
    """

    revision = models.PositiveBigIntegerField()
    at = models.DateTimeField()
    buckets = models.PositiveSmallIntegerField()
    bucket = models.PositiveSmallIntegerField()
    nodes_gz = models.BinaryField()

    class Meta:
        app_label = "topology"
        constraints = [
            models.UniqueConstraint(fields=["revision", "buckets", "bucket"], name="checkpoint_nodes_bucket")
        ]

    def __str__(self) -> str:
        return f"checkpoint {self.revision}, nodes bucket {self.bucket} of {self.buckets}"
