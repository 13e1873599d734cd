"""What the dashboard keeps: the cloud snapshot, each host's latest report, the graph.

Nothing lives only in one process's memory: several ASGI servers and Celery
workers share these rows.
"""

from __future__ import annotations

from typing import Any

import orjson
from django.db import models


class CloudSnapshotManager(models.Manager["CloudSnapshot"]):
    def latest_snapshot(self) -> CloudSnapshot | None:
        """The newest snapshot, None before the first refresh."""
        return self.order_by("-id").first()


class CloudSnapshot(models.Model):
    """The cloud's logical state from its API (one row, replaced on each refresh)."""

    objects = CloudSnapshotManager()

    cloud = models.CharField(max_length=255)
    collected_at = models.DateTimeField()
    data = models.JSONField()
    # topology.join.digest(data), hex, made when stored (empty: unknown, the join computes it)
    digest = models.CharField(max_length=32, blank=True, default="")
    api_calls = models.PositiveIntegerField(help_text="HTTP requests the refresh made to the cloud's APIs")
    duration = models.FloatField(help_text="seconds")

    def __str__(self) -> str:
        return f"{self.cloud} at {self.collected_at:%Y-%m-%d %H:%M:%S}"


class AgentToken(models.Model):
    """The per-host secret a node agent sends as ``Authorization: Bearer``; only its hash is kept."""

    host = models.CharField(max_length=255, unique=True)
    token_sha256 = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.host


class HostReport(models.Model):
    """The latest accepted agent report of a host."""

    host = models.CharField(max_length=255, unique=True)
    collected_at = models.DateTimeField()
    received_at = models.DateTimeField()
    size = models.PositiveIntegerField(help_text="bytes")
    report = models.JSONField()
    # topology.join.digest(report), hex, made when stored (empty: unknown, the join computes it)
    digest = models.CharField(max_length=32, blank=True, default="")
    # The report's names by section and the digest they were read from (topology/report_inventory.py):
    # the next report's change summary compares them instead of decoding this report.
    inventory = models.TextField(blank=True, default="")

    def __str__(self) -> str:
        return self.host


class HostReportChange(models.Model):
    """History: what changed on a host between two accepted reports."""

    host = models.CharField(max_length=255, db_index=True)
    received_at = models.DateTimeField()
    summary = models.JSONField()

    class Meta:
        ordering = ("-received_at",)

    def __str__(self) -> str:
        return f"{self.host} at {self.received_at}"


GRAPH_STATE_ID = 1
"""The primary key of GraphState's single row."""


class GraphStateManager(models.Manager["GraphState"]):
    def the_row(self) -> models.QuerySet[GraphState]:
        """The single row (empty before the first join)."""
        return self.filter(id=GRAPH_STATE_ID)


class GraphState(models.Model):
    """The graph's revision (a single row, id GRAPH_STATE_ID); the graph itself is kept by part (GraphPart).

    ``graph`` is the whole graph as the API serves it, assembled from the parts once per
    revision per process (topology/graphservice/store.py); setting it and saving stores it
    as parts. ``graph_json`` is the whole-graph blob of migrations 0002-0003, emptied by
    0004 (which splits it into parts) and never written since.
    """

    objects = GraphStateManager()

    revision = models.PositiveBigIntegerField(default=0)
    generated_at = models.DateTimeField(null=True)
    graph_json = models.BinaryField(default=b"{}")

    def __str__(self) -> str:
        return f"revision {self.revision}"

    @property
    def graph(self) -> dict[str, Any]:
        cached: dict[str, Any] | None = getattr(self, "_graph", None)
        if cached is None:
            from topology.graphservice.store import assembled_graph

            cached = assembled_graph((self.revision, self.generated_at))
            if not cached["nodes"] and bytes(self.graph_json or b"{}") != b"{}":
                cached = orjson.loads(bytes(self.graph_json))
            self._graph = cached
        return cached

    @graph.setter
    def graph(self, value: dict[str, Any]) -> None:
        self._graph = value
        self._graph_unsaved = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        if getattr(self, "_graph_unsaved", False):
            from topology.graphservice.store import replace_graph

            replace_graph(self._graph, self.revision)
            self._graph_unsaved = False


class GraphPart(models.Model):
    """One part of the graph (topology/graphservice/parts.py): ``logical``, ``host:<name>`` or ``cross``.

    ``body`` is orjson ``{"nodes": [...], "edges": [[source, target, kind], ...]}``; a change
    rewrites only the parts it touched, ``revision`` the one that last wrote it.
    """

    key = models.CharField(max_length=300, unique=True)
    revision = models.PositiveBigIntegerField()
    body = models.BinaryField()
    # its admin views' JSON text (topology/graphservice/fragments.py); null: not made (then the
    # views are scoped from the assembled graph)
    fragments = models.BinaryField(null=True)

    class Meta:
        # Every part's revision, read by each view per revision (topology/hostviews.py), from the index
        # alone: on SQLite a scan of the table walks a page per part (each row's body starts on its own).
        indexes = [models.Index(fields=["key", "revision"], name="graphpart_key_revision")]

    def __str__(self) -> str:
        return f"{self.key} at revision {self.revision}"


class GraphPartSummary(models.Model):
    """A part's admin collapsed-view summary (topology/graphservice/summaries.py), written with the part, with
    the revision it was made at (a reader trusts it at that revision only; none: it summarizes the body).
    A table of its own: SQLite reads a column after a part's body only by walking the body's pages."""

    key = models.CharField(max_length=300, unique=True)
    body = models.BinaryField()

    def __str__(self) -> str:
        return f"summary of {self.key}"


class GraphPartScope(models.Model):
    """What a member of ``project`` sees of a host part, summarized for the collapsed view and host content
    (topology/graphservice/summaries.py); project ``""``: what any project sees there. Rewritten with the part."""

    key = models.CharField(max_length=300, db_index=True)
    project = models.CharField(max_length=64)
    revision = models.PositiveBigIntegerField()
    body = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "key"], name="one_part_scope_per_project")]

    def __str__(self) -> str:
        return f"{self.key} for {self.project or 'any project'} at revision {self.revision}"


class GraphView(models.Model):
    """A view of the graph as the API serves it, serialized and gzipped once per revision.

    Browsers of the same scope (admins; each project) then share one serialization.
    """

    view = models.CharField(max_length=16)
    scope = models.CharField(max_length=64, help_text="project id, or empty for the whole cloud")
    revision = models.PositiveBigIntegerField()
    body_gzip = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["view", "scope"], name="one_graph_view_per_scope")]

    def __str__(self) -> str:
        return f"{self.view}/{self.scope or 'admin'} at revision {self.revision}"


from topology.history.models import GraphRevision  # noqa: E402, F401  (the history app part: topology/history/)
from topology.watches.models import Watch, WatchEvent  # noqa: E402, F401  (watched paths: topology/watches/)
