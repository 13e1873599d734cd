"""The collapsed view from the summaries the writer stores beside each part (topology/graphservice/summaries.py):
equal to the view made from the whole graph, change after change through the real writer; an admin's read
without parsing a body, a member's without the whole graph and without another project's rows."""

from __future__ import annotations

import copy
import gzip
import random
from typing import Any

import orjson
import pytest

from bench.synthetic import synthetic_cloud
from tests import test_graphservice
from tests.test_graphservice import CHANGES, JsonDict, Published, Run, report_flips_a_tap
from topology import collapsed, hostscopes, hostviews
from topology.graphservice import store
from topology.graphservice.store import assembled_graph, forget_assembled
from topology.kinds import NodeKind
from topology.models import GraphPart, GraphPartScope, GraphPartSummary, GraphState
from topology.scope import scope_graph

pytestmark = pytest.mark.django_db
published = test_graphservice.published  # the fixture: the deltas the writer publishes
PHYSICAL = frozenset(NodeKind.PHYSICAL)


def whole_graph_view(project: str | None) -> dict[str, Any]:
    """main's way: every part's body (admin) or the assembled graph scoped (a member), summarized."""
    state = GraphState.objects.get()
    if project is None:
        cache = hostviews.AdminCache(hostviews.summary_view)
        summaries, links = hostviews.merged_views(list(cache.refresh((state.revision, state.generated_at)).values()))
    else:
        graph = scope_graph(assembled_graph((state.revision, state.generated_at)), "full", project)
        view = hostviews.part_view(graph["nodes"], graph["edges"])
        summaries, links = view.summaries, view.links
    return collapsed.collapsed_graph(summaries, links)


def served(project: str | None) -> dict[str, Any]:
    body = orjson.loads(gzip.decompress(hostviews.collapsed_view(project)))
    return {k: v for k, v in body.items() if k not in ("revision", "generated_at")}


def projects_of(cloud: JsonDict) -> list[str]:
    return sorted({p["project_id"] for p in cloud["ports"] if p.get("project_id")})


def check_views(cloud: JsonDict) -> None:
    """Served from the stored summaries (a fresh process's caches) == made from the whole graph."""
    hostviews.forget()
    forget_assembled()
    reads, bodies = hostviews.ADMIN.reads, hostviews.ADMIN.bodies
    assert served(None) == whole_graph_view(None)
    assert hostviews.ADMIN.bodies == bodies and hostviews.ADMIN.reads - reads == GraphPart.objects.count()
    state = GraphState.objects.get()
    for project in projects_of(cloud):
        hostviews.forget()
        forget_assembled()
        got = served(project)
        content = {h: hostviews.host_content(h, PHYSICAL, project) for h in hostnames(got)}
        # nothing assembled, nothing scoped: only the project's rows (and what any project sees) were read
        assert hostviews._SCOPED == {} and store._ASSEMBLED == {}
        assert set(hostscopes.SCOPES.projects) == {project}
        assert got == whole_graph_view(project)
        scoped = scope_graph(assembled_graph((state.revision, state.generated_at)), "full", project)
        for host, found in content.items():
            want = collapsed.host_content(scoped["nodes"], scoped["edges"], host, PHYSICAL)
            assert found is not None and (found["nodes"], found["edges"]) == (want["nodes"], want["edges"])


def hostnames(body: dict[str, Any]) -> list[str]:
    return [n["id"][len("host:") :] for n in body["nodes"]]


@pytest.mark.parametrize(
    ("seed", "shape"),
    [
        (1, {"hosts": 4, "ports": 12, "projects": 2, "network_nodes": 2, "tunnel_peers": 2}),
        (2, {"hosts": 6, "ports": 30, "projects": 3, "network_nodes": 1, "tunnel_peers": 4}),
    ],
)
def test_the_stored_summaries_are_the_whole_graph_s_change_after_change(
    seed: int, shape: dict[str, int], published: Published
) -> None:
    rnd = random.Random(seed)
    cloud, reports = synthetic_cloud(**shape)
    run = Run(cloud, reports, published)
    run.apply_and_check(everything=True)
    check_views(run.cloud)
    for step in range(8):
        change = CHANGES[step % len(CHANGES)] if step < len(CHANGES) else rnd.choice(CHANGES)
        hosts, cloud_changed = change(run, rnd)
        run.apply_and_check(hosts=hosts, cloud=cloud_changed)
        check_views(run.cloud)


def stored_summaries() -> dict[str, bytes]:
    return {key: bytes(s) for key, s in GraphPartSummary.objects.values_list("key", "body")}


def stored_scopes() -> dict[tuple[str, str], tuple[int, bytes]]:
    rows = GraphPartScope.objects.values_list("key", "project", "revision", "body")
    return {(key, project): (revision, bytes(body)) for key, project, revision, body in rows}


def test_a_report_that_changes_one_host_rewrites_that_host_s_summaries_only(
    published: Published,
) -> None:
    cloud, reports = synthetic_cloud(hosts=4, ports=12, projects=2, network_nodes=1, tunnel_peers=2)
    run = Run(cloud, reports, published)
    run.apply_and_check(everything=True)
    summaries, scopes = stored_summaries(), stored_scopes()
    assert len(scopes) > 4
    hostviews.forget()
    before = served(None)
    hosts, _ = report_flips_a_tap(run, random.Random(7))
    run.apply_and_check(hosts=hosts)
    (host,) = hosts
    after_summaries, after_scopes = stored_summaries(), stored_scopes()
    assert {k for k in after_summaries if after_summaries[k] != summaries.get(k)} == {f"host:{host}"}
    revision = GraphState.objects.get().revision
    rewritten = {key for key, (rev, _) in after_scopes.items() if rev == revision}
    assert rewritten and {key for key, _ in rewritten} == {f"host:{host}"}
    assert {k: v for k, v in after_scopes.items() if k not in rewritten} == {
        k: v for k, v in scopes.items() if k not in rewritten
    }
    # the running view re-reads that part alone, and shows the change
    reads = hostviews.ADMIN.reads
    after = served(None)
    assert hostviews.ADMIN.reads == reads + 1
    assert after == whole_graph_view(None)
    assert [n for n in after["nodes"] if n["id"] != f"host:{host}"] == [
        n for n in before["nodes"] if n["id"] != f"host:{host}"
    ]


def test_a_part_written_without_its_summary_is_summarized_from_its_body(
    published: Published,
) -> None:
    """A database from before migration 0007 (parts without summaries): the views are still right."""
    cloud, reports = synthetic_cloud(hosts=3, ports=8, projects=2, network_nodes=1, tunnel_peers=2)
    run = Run(cloud, reports, published)
    run.apply_and_check(everything=True)
    GraphPartSummary.objects.all().delete()
    GraphPartScope.objects.all().delete()
    hostviews.forget()
    bodies = hostviews.ADMIN.bodies
    assert served(None) == whole_graph_view(None)
    assert hostviews.ADMIN.bodies - bodies == GraphPart.objects.count()
    for project in projects_of(cloud):
        assert served(project) == whole_graph_view(project)


def test_a_network_made_shared_shows_its_namespaces_to_every_project(published: Published) -> None:
    """Who sees a host part changes without the part changing: the writer rewrites its project rows alone."""
    cloud, reports = synthetic_cloud(hosts=4, ports=12, projects=2, network_nodes=1, tunnel_peers=2)
    run = Run(cloud, reports, published)
    run.apply_and_check(everything=True)
    check_views(run.cloud)
    owner, other = projects_of(cloud)
    before = served(other)
    cloud = copy.deepcopy(run.cloud)
    network = next(n for n in cloud["networks"] if n.get("project_id") == owner and not n.get("router:external"))
    network["shared"] = True
    run.cloud = cloud
    test_graphservice.store_cloud(cloud)
    scopes = stored_scopes()
    run.apply_and_check(cloud=True)
    revision = GraphState.objects.get().revision
    rows_alone = {key for (key, _), (rev, _) in stored_scopes().items() if rev == revision}
    parts_rewritten = set(GraphPart.objects.filter(revision=revision).values_list("key", flat=True))
    assert rows_alone - parts_rewritten  # a host part's rows rewritten, its content not
    assert stored_scopes() != scopes
    check_views(run.cloud)
    after = served(other)
    assert after != before  # the other project now sees the shared network's qdhcp- namespace's host
