"""A checkpoint's nodes by bucket (topology/history/checkpoint_nodes.py), off the lab: the synthetic cloud stored
and joined for real by the graph service, churned (bench/history.py's mix, a router's gateway cleared), a
checkpoint every few revisions.

Every checkpoint the writer records has all its buckets, and every node looked up through them is the node
the checkpoint's own bytes hold (and an absent id absent both ways); the buckets go with their checkpoint
(pruned, or a reset graph state); and "what changed" gives the same answer, to an admin and to each project's
member, read through the buckets as through the checkpoint's bytes, without reading those bytes.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench.history import churn_step
from bench.path import OUTSIDE, add_gateways_and_fips
from tests.browser import caller
from tests.history_inputs import Inputs, rebuild
from tests.test_history import logged_in
from topology import path_graph
from topology.history import checkpoint_nodes, window
from topology.history.delta import decode
from topology.history.models import CheckpointNodes, GraphRevision
from topology.history.retention import prune_history
from topology.history.window import Checkpoint

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def nothing_kept() -> None:
    window.forget()
    path_graph.forget()


def churned(settings: Any, steps: int, every: int = 5) -> Inputs:
    settings.HISTORY_CHECKPOINT_EVERY = every
    inputs = Inputs(hosts=4, ports=16, projects=2)
    add_gateways_and_fips(inputs.cloud, inputs.reports, fip_every=3)
    inputs.store_all()
    rebuild()
    rng = random.Random(4)
    for n in range(steps):
        if n == steps // 2:  # a router's gateway cleared: its gateway port gone, paths to the outside broken
            router = inputs.cloud["routers"][0]
            router["external_gateway_info"] = None
            inputs.cloud["ports"] = [
                p
                for p in inputs.cloud["ports"]
                if not (p["device_id"] == router["id"] and p["device_owner"] == "network:router_gateway")
            ]
            inputs.store_cloud()
        else:
            kind, hosts = churn_step(inputs.cloud, inputs.reports, rng, n)
            inputs.store_reports(hosts | set(inputs.reports))
            if kind in ("port", "vm"):
                inputs.store_cloud()
        rebuild()
    return inputs


def checkpoints() -> list[tuple[int, Any, dict[str, Any]]]:
    rows = GraphRevision.objects.filter(checkpoint_gz__isnull=False).order_by("revision")
    return [(r, at, decode(blob or b"")) for r, at, blob in rows.values_list("revision", "at", "checkpoint_gz")]


def test_every_node_from_its_bucket_is_the_checkpoints_own(settings: Any) -> None:
    churned(settings, 16)
    made = checkpoints()
    assert len(made) >= 3
    for revision, at, graph in made:
        rows = CheckpointNodes.objects.filter(revision=revision, at=at, buckets=checkpoint_nodes.BUCKETS)
        assert sorted(rows.values_list("bucket", flat=True)) == list(range(checkpoint_nodes.BUCKETS))
        by_bucket, by_bytes = Checkpoint(revision, at=at), Checkpoint(revision)
        for node in graph["nodes"]:
            assert by_bucket.node(node["id"]) == node == by_bytes.node(node["id"]), node["id"]
        for absent in ("port:not-there", "router:gone"):
            assert by_bucket.node(absent) is None and by_bytes.node(absent) is None
        assert by_bucket.blob is None  # the checkpoint's bytes never read
    assert not CheckpointNodes.objects.exclude(revision__in=[r for r, _, _ in made]).exists()


def test_the_buckets_go_with_their_checkpoint(settings: Any) -> None:
    churned(settings, 12)
    made = [r for r, _, _ in checkpoints()]
    settings.RETAIN_HISTORY_DAYS = 0  # all of it old: kept from the newest checkpoint on
    prune_history(timezone.now())
    assert set(CheckpointNodes.objects.values_list("revision", flat=True)) == {made[-1]}
    # Buckets of another time than the row's (a reset graph state) are never read: the bytes are.
    revision, _, graph = checkpoints()[-1]
    GraphRevision.objects.filter(revision=revision).update(at=timezone.now().replace(year=2001))
    moved = Checkpoint(revision, at=GraphRevision.objects.get(revision=revision).at)
    node = graph["nodes"][0]
    assert moved.node(node["id"]) == node and moved.blob is not None
    checkpoint_nodes.drop_from(revision + 1)  # what record_revision does at a reset: from its revision on
    assert CheckpointNodes.objects.filter(revision=revision).count() == checkpoint_nodes.BUCKETS
    checkpoint_nodes.drop_from(revision)
    assert not CheckpointNodes.objects.exists()


def since_answers(inputs: Inputs) -> dict[tuple[str, str], Any]:
    """Every VM's ``since`` to the outside, as the admin and as a member of each project."""
    ports = [p for p in inputs.cloud["ports"] if p["device_owner"] == "compute:nova"]
    projects = sorted({p["project_id"] for p in ports})
    clients = {"admin": logged_in(Client(), caller("admin", "admin-project", admin=True))}
    clients.update({project: logged_in(Client(), caller(f"member-{project}", project)) for project in projects})
    out: dict[tuple[str, str], Any] = {}
    for port in ports:
        for who, client in clients.items():
            response = client.get(f"/api/v1/path/?src=port:{port['id']}&dst={OUTSIDE}&since=1")
            body = response.json()
            out[(port["id"], who)] = (response.status_code, body.get("since", body))
    return out


def test_what_changed_is_the_same_through_the_buckets_without_reading_the_checkpoint(settings: Any) -> None:
    inputs = churned(settings, 14, every=30)  # one checkpoint before the window's deltas
    with CaptureQueriesContext(connection) as queries:
        through_buckets = since_answers(inputs)
    read = [q["sql"] for q in queries.captured_queries if "checkpoint_gz" in q["sql"] and "SELECT" in q["sql"]]
    assert not [sql for sql in read if '"checkpoint_gz" FROM' in sql or '"checkpoint_gz",' in sql], read
    assert any("topology_checkpointnodes" in q["sql"] for q in queries.captured_queries)  # looked up there
    found = [a for a in through_buckets.values() if a[0] == 200 and a[1]["verdict_since"]]
    assert found and any(a[1]["changes"] for a in found)  # the walk back found the break, not an empty day
    CheckpointNodes.objects.all().delete()
    window.forget()
    assert since_answers(inputs) == through_buckets
