"""Today's data keeps working: a database of the whole-graph blob (migration 0003) migrated to parts
(0004), then the writer rebuilding from the stored inputs."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import orjson
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from bench.synthetic import synthetic_cloud
from topology import graphservice, services
from topology.graphservice import GraphWriter
from topology.join import JoinCache, join_cold
from topology.models import GraphPart, GraphState

BLOB = [("topology", "0003_input_digests")]
PARTS = [("topology", "0004_graph_parts")]


def migrate(target: list[tuple[str, str]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(target)
    executor.loader.build_graph()
    return executor


def latest() -> list[tuple[str, str]]:
    """Every app at its newest migration (the writer also keeps the history, 0005)."""
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@pytest.fixture(autouse=True)
def back_to_latest() -> Iterator[None]:
    """The test database is left at the newest migrations, as every later test expects."""
    yield
    migrate(latest())


def by_id(graph: dict[str, list]) -> tuple[list, list]:
    return (
        sorted(graph["nodes"], key=lambda n: n["id"]),
        sorted(graph["edges"], key=lambda e: (e["source"], e["target"], e["kind"])),
    )


@pytest.mark.django_db(transaction=True)
def test_a_blob_database_migrates_to_parts_and_the_writer_resumes_from_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(graphservice, "WRITER", GraphWriter())
    monkeypatch.setattr(services, "JOIN_CACHE", JoinCache())
    cloud, reports = synthetic_cloud(hosts=4, ports=12, projects=2, network_nodes=1, tunnel_peers=2)
    graph = join_cold(copy.deepcopy(cloud), copy.deepcopy(reports)).to_dict()
    old = migrate(BLOB).loader.project_state(BLOB).apps
    now = timezone.now()
    old.get_model("topology", "CloudSnapshot").objects.create(
        cloud="c", collected_at=now, data=cloud, digest=services.hex_digest(cloud), api_calls=0, duration=0
    )
    for host, report in reports.items():
        old.get_model("topology", "HostReport").objects.create(
            host=host, collected_at=now, received_at=now, size=1, report=report, digest=services.hex_digest(report)
        )
    old.get_model("topology", "GraphState").objects.create(
        id=1, revision=7, generated_at=now, graph_json=orjson.dumps(graph)
    )
    migrate(PARTS)

    state = GraphState.objects.get(id=1)
    assert bytes(state.graph_json) == b"{}"
    assert {"logical", *(f"host:{h}" for h in reports)} <= set(GraphPart.objects.values_list("key", flat=True))
    assert by_id(state.graph) == by_id(graph)
    migrate(latest())
    # the writer resumes: the stored inputs join into the stored graph, no new revision
    assert services.rebuild_graph().revision == 7
    # and the next report is a new revision, its part rewritten alone
    host = sorted(reports)[1]
    changed = copy.deepcopy(reports[host])
    changed["interfaces"] = changed["interfaces"][:-1]
    services.store_report(host, changed, 1)
    state = graphservice.apply(hosts=[host])
    assert state.revision == 8
    rewritten = set(GraphPart.objects.filter(revision=8).values_list("key", flat=True))
    assert host and f"host:{host}" in rewritten and "logical" not in rewritten
    expected = join_cold(copy.deepcopy(cloud), {**copy.deepcopy(reports), host: changed}).to_dict()
    assert by_id(GraphState.objects.get(id=1).graph) == by_id(expected)


@pytest.mark.django_db(transaction=True)
def test_parts_migrate_back_to_the_blob() -> None:
    cloud, reports = synthetic_cloud(hosts=2, ports=4, projects=1, network_nodes=1, tunnel_peers=2)
    graph = join_cold(cloud, reports).to_dict()
    state = GraphState(id=1, revision=3, generated_at=timezone.now())
    state.graph = graph
    state.save()
    old = migrate(BLOB).loader.project_state(BLOB).apps
    blob = orjson.loads(bytes(old.get_model("topology", "GraphState").objects.get(id=1).graph_json))
    migrate(PARTS)
    assert by_id(blob) == by_id(graph)
