"""The graph's history (topology/history/): recorded by the real graph service, rebuilt, pruned, listed."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from bench.history import churn_step
from tasks.models import Job, JobKind, JobState
from tasks.retention import prune_all
from tests.browser import caller, session_for
from tests.history_inputs import Inputs, rebuild
from tests.map_fixtures import project_of
from topology.history.causes import cause_text
from topology.history.delta import canonical
from topology.history.models import GraphRevision
from topology.history.replay import HistoryGap, Replay, graph_at
from topology.history.visibility import ProjectView
from topology.models import HostReport
from topology.scope import visible_logical, visible_physical

pytestmark = pytest.mark.django_db
URL = "/api/v1/topology/history/"


@pytest.fixture
def every_four(settings: Any) -> None:
    settings.HISTORY_CHECKPOINT_EVERY = 4


def churned(steps: int = 40) -> dict[int, dict[str, Any]]:
    """``steps`` synthetic changes through services.rebuild_graph: each revision's graph, kept when it was current."""
    inputs = Inputs(hosts=4, ports=16)
    inputs.store_all()
    kept = dict([rebuild()])
    rng = random.Random(18)
    for n in range(steps):
        kind, hosts = churn_step(inputs.cloud, inputs.reports, rng, n)
        if n % 13 == 12:  # a host goes away altogether, then comes back
            gone = sorted(inputs.reports)[-1]
            HostReport.objects.filter(host=gone).delete()
        else:
            if kind in ("port", "vm"):  # a VM's port is Neutron's, its devices the host's report
                inputs.store_cloud()
            inputs.store_reports(hosts | set(inputs.reports))
        revision, graph = rebuild()
        kept[revision] = graph
    return kept


def test_any_revision_rebuilt_is_the_graph_that_was_current_then(every_four: None) -> None:
    """Differential: every revision rebuilt from its checkpoint and the deltas after it equals the graph
    kept when it was current."""
    kept = churned()
    rows = list(GraphRevision.objects.order_by("revision").values_list("revision", "checkpoint_gz"))
    assert [r for r, _ in rows] == sorted(kept) and len(kept) > 20
    checkpoints = [r for r, blob in rows if blob is not None]
    assert len(checkpoints) >= 3 and len(checkpoints) < len(rows) // 2  # most revisions are replayed deltas
    for revision, graph in kept.items():
        assert canonical(graph_at(revision)) == canonical(graph), revision


def test_a_projects_view_kept_delta_by_delta_is_what_scope_says_at_every_revision(every_four: None) -> None:
    """Differential: topology.history.visibility.ProjectView against topology.scope's full pass."""
    kept = churned()
    first = min(kept)
    for project in (project_of(0), project_of(1)):
        replay = Replay(first)
        view = ProjectView(replay.nodes, replay.edges.values(), project)
        for row, delta in replay.deltas(max(kept)):
            replay.apply(row, delta)
            view.update(replay.nodes, delta)
            graph = kept[row.revision]
            logical = visible_logical(graph["nodes"], project)
            assert view.visible() == logical | visible_physical(graph, logical), row.revision
        assert len(view.visible()) > 10


def test_a_missing_row_is_a_gap_not_a_wrong_graph(every_four: None) -> None:
    inputs = Inputs()
    inputs.store_all()
    rebuild()
    for state in ("DOWN", "ACTIVE", "DOWN"):
        inputs.cloud["ports"][0]["status"] = state
        inputs.store_cloud()
        last, _ = rebuild()
    GraphRevision.objects.filter(revision=last - 1).delete()
    with pytest.raises(HistoryGap):
        graph_at(last)
    member = logged_in(Client(), caller("demo", project_of(0)))
    assert member.get(URL).status_code == 409  # a member's page is replayed: it says so, never a wrong count


def test_causes_name_the_report_the_refresh_the_stale_host_and_the_job(client: Client) -> None:
    inputs = Inputs()
    inputs.store_all()
    rebuild()
    host = sorted(inputs.reports)[1]
    inputs.reports[host]["interfaces"][0]["state"] = "DOWN"
    inputs.store_reports({host})
    revision, _ = rebuild()
    row = GraphRevision.objects.get(revision=revision)
    assert row.causes == [{"kind": "report", "host": host}]
    assert row.writer_lag is not None and 0 <= row.writer_lag < 60
    assert cause_text(row.causes) == f"host report {host}"

    router = inputs.cloud["routers"][0]
    job = Job.objects.create(
        kind=JobKind.GATEWAY_CLEAR,
        user_id="u-demo",
        user_name="demo",
        project_id=router["project_id"],
        target=router["id"],
        state=JobState.SUCCEEDED,
        finished_at=timezone.now(),
    )
    router["external_gateway_info"] = None
    inputs.store_cloud()
    revision, _ = rebuild()
    causes = GraphRevision.objects.get(revision=revision).causes
    assert {"kind": "cloud"} in causes
    assert {"kind": "job", "job": job.pk, "user": "demo", "project": router["project_id"]} in causes
    assert f"job {job.pk} by demo" in cause_text(causes)

    HostReport.objects.filter(host=host).update(received_at=timezone.now() - timedelta(hours=1))
    revision, _ = rebuild()
    assert GraphRevision.objects.get(revision=revision).causes == [{"kind": "stale", "host": host}]


def test_the_prune_task_cuts_at_a_checkpoint_by_age_and_by_size(every_four: None, settings: Any) -> None:
    inputs = Inputs()
    inputs.store_all()
    rebuild()
    for n in range(14):
        inputs.cloud["ports"][n % 4]["status"] = "DOWN" if n % 8 < 4 else "ACTIVE"
        inputs.store_cloud()
        rebuild()
    rows = list(GraphRevision.objects.order_by("revision"))
    old = timezone.now() - timedelta(days=settings.RETAIN_HISTORY_DAYS, hours=1)
    GraphRevision.objects.filter(revision__lte=rows[6].revision).update(at=old)  # 7 old revisions
    counts = prune_all(timezone.now())
    assert counts["topology.history.retention.prune_history"] > 0
    first = GraphRevision.objects.order_by("revision").first()
    assert first is not None and first.is_checkpoint and first.revision <= rows[7].revision
    assert all(r.revision >= first.revision for r in GraphRevision.objects.all())
    newest = rows[-1].revision
    graph_at(first.revision), graph_at(newest)  # still rebuilt from what is kept
    settings.RETAIN_HISTORY_MB = 0  # by size: down to the newest checkpoint and what follows it
    prune_all(timezone.now())
    kept = GraphRevision.objects.order_by("revision")
    assert kept.first() == GraphRevision.objects.filter(checkpoint_gz__isnull=False).order_by("-revision").first()
    assert kept.last() is not None and kept.last().revision == newest  # type: ignore[union-attr]
    graph_at(newest)


def logged_in(client: Client, who: Any) -> Client:
    client.cookies[settings.SESSION_COOKIE_NAME] = session_for(who)
    return client


def history(client: Client) -> dict[str, Any]:
    response = client.get(URL)
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def two_projects() -> tuple[Inputs, str, str, dict[str, dict[str, Any]]]:
    """The synthetic cloud of two projects, stored and built; demo's and alt's projects and a VM port of each."""
    inputs = Inputs(hosts=3, ports=12, projects=2)
    inputs.store_all()
    rebuild()
    demo, alt = project_of(0), project_of(1)
    port_of = {
        p: next(x for x in inputs.cloud["ports"] if x["project_id"] == p and x["device_owner"] == "compute:nova")
        for p in (demo, alt)
    }
    return inputs, demo, alt, port_of


def test_each_tenant_sees_only_the_revisions_and_causes_of_its_own_scope() -> None:
    """demo (project 0) and alt (project 1) both ways; the admin sees every revision."""
    inputs, demo, alt, port_of = two_projects()
    made: dict[str, int] = {}
    for project in (demo, alt):
        job = Job.objects.create(
            kind=JobKind.FIP_RELEASE,
            user_id=f"u-{project}",
            user_name=f"user-of-{project[:6]}",
            project_id=project,
            target=port_of[project]["id"],
            state=JobState.SUCCEEDED,
            finished_at=timezone.now(),
        )
        port_of[project]["status"] = "DOWN"
        inputs.store_cloud()
        made[project], _ = rebuild()
        assert {"kind": "job", "job": job.pk, "user": job.user_name, "project": project} in (
            GraphRevision.objects.get(revision=made[project]).causes
        )
    for project in (demo, alt):  # one refresh brings both back: both jobs are its causes
        port_of[project]["status"] = "ACTIVE"
    inputs.store_cloud()
    both, _ = rebuild()
    assert sorted(
        c["project"] for c in GraphRevision.objects.get(revision=both).causes if c["kind"] == "job"
    ) == sorted((demo, alt))
    admin_client = logged_in(Client(), caller("admin", "admin-project", admin=True))
    admin = history(admin_client)
    assert {r["revision"] for r in admin["revisions"]} >= {*made.values(), both}
    assert admin["next_before"] is None  # all of it on one page
    paged = admin_client.get(URL + f"?before={both}&limit=1").json()
    assert [r["revision"] for r in paged["revisions"]] == [both - 1] and paged["next_before"] == both - 1
    for project, other in ((demo, alt), (alt, demo)):
        body = history(logged_in(Client(), caller(f"member-{project[:4]}", project)))
        revisions = {r["revision"]: r for r in body["revisions"]}
        assert made[project] in revisions and made[other] not in revisions
        mine = revisions[made[project]]
        assert mine["counts"]["changed"]["nodes"] >= 1
        assert [c["kind"] for c in mine["causes"]] == ["cloud", "job"]
        assert [c.get("project") for c in revisions[both]["causes"]] == [None, project]
        text = str(body)
        assert other not in text and port_of[other]["id"] not in text and f"user-of-{other[:6]}" not in text


def test_the_history_api_refuses_bad_paging_and_anonymous_callers(client: Client) -> None:
    assert client.get(URL).status_code in (401, 403)
    member = logged_in(client, caller("demo", project_of(0)))
    assert member.get(URL + "?limit=0").status_code == 400
    assert member.get(URL + "?before=x").status_code == 400
    assert member.get(URL).json() == {"revisions": [], "next_before": None}
