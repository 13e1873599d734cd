"""The map at a past revision and a compare of two (GET /api/v1/topology/history/<revision>/), scoped.

The differential tests keep, at every revision of a synthetic churn made by the real graph
service, what the live topology API answered then (admin, demo's project, alt's project), and
hold the past-revision API to it afterwards.
"""

from __future__ import annotations

import gzip
import random
from typing import Any

import orjson
import pytest
from django.conf import settings
from django.test import Client

from bench.history import churn_step
from tests.browser import caller, session_for
from tests.history_inputs import Inputs, owned_ids, rebuild
from tests.map_fixtures import project_of
from topology import graph as g
from topology.history.delta import canonical
from topology.history.models import GraphRevision
from topology.history.past import compare_views, forget
from topology.models import HostReport

pytestmark = pytest.mark.django_db
LIVE = "/api/v1/topology/"
DEMO, ALT = project_of(0), project_of(1)
# Who asks, and the views they ask for (the admin's map opens on physical, a member's on logical).
CALLERS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "admin": (caller("admin", "admin-project", admin=True), ("physical", "logical", "full")),
    "demo": (caller("demo", DEMO), ("logical", "physical")),
    "alt": (caller("alt", ALT), ("logical", "physical")),
}


def past(revision: int) -> str:
    return f"/api/v1/topology/history/{revision}/"


@pytest.fixture(autouse=True)
def fresh_caches(settings: Any) -> None:
    settings.HISTORY_CHECKPOINT_EVERY = 4
    forget()  # the per-process bodies of another test's database must not answer for this one


def clients() -> dict[str, Client]:
    out = {}
    for name, (who, _) in CALLERS.items():
        client = Client()
        client.cookies[settings.SESSION_COOKIE_NAME] = session_for(who)
        out[name] = client
    return out


def body(client: Client, url: str, status: int = 200) -> dict[str, Any]:
    response = client.get(url)
    assert response.status_code == status, (url, response.content[:300])
    value: dict[str, Any] = response.json()
    return value


Live = dict[int, dict[tuple[str, str], dict[str, Any]]]


def churned_live(who: dict[str, Client], steps: int = 24) -> Live:
    """A churn through services.rebuild_graph; at each revision what each caller's live API answered."""
    inputs = Inputs(hosts=4, ports=16, projects=2)
    inputs.store_all()
    rng = random.Random(7)
    live: Live = {}

    def keep() -> None:
        revision, _ = rebuild()
        live[revision] = {
            (name, view): body(who[name], f"{LIVE}?view={view}")
            for name, (_, views) in CALLERS.items()
            for view in views
        }

    keep()
    for n in range(steps):
        kind, hosts = churn_step(inputs.cloud, inputs.reports, rng, n)
        if n % 9 == 8:  # a host goes away, then comes back with the next step's reports
            HostReport.objects.filter(host=sorted(inputs.reports)[-1]).delete()
        else:
            if kind in ("port", "vm"):
                inputs.store_cloud()
            inputs.store_reports(hosts | set(inputs.reports))
        keep()
    return live


def same_view(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (a["revision"], a["generated_at"]) == (b["revision"], b["generated_at"]) and canonical(a) == canonical(b)


def test_every_past_revision_is_the_view_that_was_live_then_for_each_caller() -> None:
    """Differential, admin and both members, every view: past == live at that revision."""
    who = clients()
    live = churned_live(who)
    assert len(live) > 15
    assert GraphRevision.objects.filter(checkpoint_gz__isnull=True).count() > len(live) // 2  # mostly replayed
    for revision, answers in live.items():
        for (name, view), answer in answers.items():
            got = body(who[name], f"{past(revision)}?view={view}")
            assert set(got) == set(answer)  # the live response's shape
            assert same_view(got, answer), (revision, name, view)
    # The members' views moved over the churn (else this test would prove little about scoping).
    assert len({len(a[("demo", "logical")]["nodes"]) for a in live.values()}) > 1


def test_a_compare_is_the_diff_of_the_two_live_views_scoped() -> None:
    who = clients()
    live = churned_live(who, steps=16)
    revisions = sorted(live)
    rng = random.Random(3)
    pairs = [(revisions[-1], revisions[0]), (revisions[0], revisions[-1])]
    pairs += [tuple(rng.sample(revisions, 2)) for _ in range(6)]  # type: ignore[misc]
    seen_changes = 0
    for new, old in pairs:
        for (name, view), answer in live[new].items():
            got = body(who[name], f"{past(new)}?view={view}&compare={old}")
            before = live[old][(name, view)]
            delta = g.diff(before, answer)
            assert (got["revision"], got["compare"]) == (new, old)
            assert got["compare_generated_at"] == before["generated_at"]
            assert set(got["added"]["nodes"]) == {n["id"] for n in delta["added"]["nodes"]}
            assert set(got["removed"]["nodes"]) == set(delta["removed"]["nodes"])
            assert set(got["changed"]["nodes"]) == {n["id"] for n in delta["changed"]["nodes"]}
            assert {g.edge_key(e) for e in got["added"]["edges"]} == {g.edge_key(e) for e in delta["added"]["edges"]}
            assert {g.edge_key(e) for e in got["removed"]["edges"]} == {
                g.edge_key(e) for e in delta["removed"]["edges"]
            }
            by_id = {n["id"]: n for n in before["nodes"]}
            assert got["ghosts"] == [by_id[i] for i in got["removed"]["nodes"]]  # as the older view had them
            seen_changes += len(got["added"]["nodes"]) + len(got["removed"]["nodes"]) + len(got["changed"]["nodes"])
    assert seen_changes > 0


def test_compare_views_is_pure_and_one_way() -> None:
    old = {
        "nodes": [{"id": "a", "kind": "port", "status": "ACTIVE"}, {"id": "b", "kind": "port"}],
        "edges": [{"source": "a", "target": "b", "kind": "veth"}],
    }
    new = {
        "nodes": [{"id": "a", "kind": "port", "status": "DOWN"}, {"id": "c", "kind": "port"}],
        "edges": [{"source": "a", "target": "c", "kind": "veth"}],
    }
    out = compare_views(new, old)
    assert out == {
        "added": {"nodes": ["c"], "edges": [{"source": "a", "target": "c", "kind": "veth"}]},
        "removed": {"nodes": ["b"], "edges": [{"source": "a", "target": "b", "kind": "veth"}]},
        "changed": {"nodes": ["a"]},
        "ghosts": [{"id": "b", "kind": "port"}],
    }
    back = compare_views(old, new)
    assert back["added"]["nodes"] == ["b"] and back["removed"]["nodes"] == ["c"] and back["ghosts"][0]["id"] == "c"


def test_each_member_sees_only_its_scope_by_revision_in_compare_and_in_errors() -> None:
    """demo vs alt and alt vs demo: a revision only the other project changed, compared and replayed."""
    who = clients()
    inputs = Inputs(hosts=3, ports=12, projects=2)
    inputs.store_all()
    first, _ = rebuild()
    made = {}
    for project in (DEMO, ALT):
        port = next(
            p for p in inputs.cloud["ports"] if p["project_id"] == project and p["device_owner"] == "compute:nova"
        )
        port["status"] = "DOWN"
        port["name"] = f"secret-port-of-{project[:6]}"
        inputs.store_cloud()
        made[project], _ = rebuild()
    ids = {p: owned_ids(inputs, p) for p in (DEMO, ALT)}
    assert ids[DEMO] and ids[ALT]
    for name, project, other in (("demo", DEMO, ALT), ("alt", ALT, DEMO)):
        client = who[name]
        for revision in (first, made[DEMO], made[ALT]):
            for view in ("logical", "physical", "full"):
                text = str(body(client, f"{past(revision)}?view={view}"))
                assert other not in text and f"secret-port-of-{other[:6]}" not in text
                assert not any(i in text for i in ids[other]), (name, revision, view)
        mine = body(client, f"{past(made[project])}?view=logical&compare={made[project] - 1}")
        theirs = body(client, f"{past(made[other])}?view=logical&compare={made[other] - 1}")
        assert any(i.split(":", 1)[1] in ids[project] for i in mine["changed"]["nodes"])
        assert theirs["added"] == theirs["removed"] == {"nodes": [], "edges": []}
        assert theirs["changed"] == {"nodes": []} and theirs["ghosts"] == []  # the other's change: nothing of it
        both = str(body(client, f"{past(made[ALT])}?view=full&compare={first}"))
        assert other not in both and not any(i in both for i in ids[other])
        errors = [
            body(client, past(made[ALT] + 5), 404),
            body(client, f"{past(made[ALT])}?compare={made[ALT] + 5}", 404),
        ]
        for error in errors:
            assert (error["oldest"], error["newest"]) == (first, made[ALT])
            assert other not in str(error) and project not in str(error)
    admin = str(body(who["admin"], f"{past(made[ALT])}?view=full"))
    assert DEMO in admin and ALT in admin  # the admin's view holds both: the members' are cut, not empty


def test_a_project_that_sees_nothing_gets_its_empty_scope_not_an_error() -> None:
    inputs = Inputs(hosts=2, ports=6, projects=2)
    inputs.store_all()
    revision, graph = rebuild()
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = session_for(caller("nobody", "project-with-nothing"))
    got = body(client, f"{past(revision)}?view=full")
    assert got["revision"] == revision
    assert len(got["nodes"]) < len(graph["nodes"]) // 4  # at most the shared networks
    text = str(got)
    assert DEMO not in text and ALT not in text
    assert {g.id_kind(n["id"]) for n in got["nodes"]} <= {"network", "subnet"}  # the external network, public


def test_a_pruned_or_unknown_revision_is_a_404_naming_the_oldest_kept() -> None:
    inputs = Inputs()
    inputs.store_all()
    rebuild()
    for n in range(14):
        inputs.cloud["ports"][n % 4]["status"] = "DOWN" if n % 8 < 4 else "ACTIVE"
        inputs.store_cloud()
        last, _ = rebuild()
    checkpoints = list(
        GraphRevision.objects.filter(checkpoint_gz__isnull=False)
        .order_by("revision")
        .values_list("revision", flat=True)
    )
    assert len(checkpoints) >= 2
    cut = checkpoints[1]
    GraphRevision.objects.filter(revision__lt=cut).delete()  # as prune_history cuts: at a checkpoint
    client = clients()["demo"]
    for url in (past(cut - 1), past(last + 1), f"{past(last)}?compare={cut - 1}", past(0), past(2**64)):
        error = body(client, url, 404)
        assert error["oldest"] == cut and error["newest"] == last
        assert f"the oldest kept is {cut}" in error["detail"]
    assert body(client, past(cut))["revision"] == cut
    packed = client.get(past(cut), HTTP_ACCEPT_ENCODING="gzip, deflate")
    assert packed["Content-Encoding"] == "gzip" and orjson.loads(gzip.decompress(packed.content))["revision"] == cut
    assert body(client, past(last))["revision"] == last
    assert client.get(f"{past(last)}?compare=x").status_code == 400
    assert client.get(f"{past(last)}?view=nope").status_code == 400
    assert Client().get(past(last)).status_code in (401, 403)
    replayed = (
        GraphRevision.objects.filter(revision__gt=cut + 1, checkpoint_gz__isnull=True)
        .order_by("-revision")
        .values_list("revision", flat=True)
        .first()
    )
    assert replayed is not None
    GraphRevision.objects.filter(revision=replayed - 1).delete()
    forget()
    assert client.get(past(replayed)).status_code == 409  # a row gone after its checkpoint: said, not guessed
