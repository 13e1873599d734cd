"""The path at a past revision (``GET /api/v1/path/?...&at=<revision>``), off the lab: the synthetic cloud
stored and joined for real by the graph service, each revision recorded in the history.

Differential: at every revision made, what the live path API answered then (admin, demo, alt, each
asking about its own VM's way out); afterwards, asked with ``at=`` that revision, the same answer
(and the ``past`` marker). A VM port set administratively down breaks the path at one revision and is
set up again at the next. A member asking about the other project's VM at a revision where only that
project had it gets the 404 of an address nobody has, demo vs alt and alt vs demo.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from bench.path import OUTSIDE, add_gateways_and_fips
from tests.browser import caller
from tests.history_inputs import Inputs, owned_ids, rebuild
from tests.map_fixtures import project_of
from tests.test_history import logged_in
from topology import graph as g
from topology.history import past, path_at
from topology.history.models import GraphRevision

pytestmark = pytest.mark.django_db
DEMO, ALT = project_of(0), project_of(1)
URL = "/api/v1/path/"


@pytest.fixture(autouse=True)
def fresh_caches(settings: Any) -> None:
    settings.HISTORY_CHECKPOINT_EVERY = 3  # most revisions replayed from deltas, a few from their checkpoint
    past.forget()
    path_at.forget()


def ask(client: Client, src: str, at: int | str | None = None, status: int = 200, **extra: str) -> dict[str, Any]:
    params = {"src": src, "dst": OUTSIDE, **extra}
    if at is not None:
        params["at"] = str(at)
    response = client.get(URL, params)
    assert response.status_code == status, (params, response.content[:400])
    body: dict[str, Any] = response.json()
    return body


def vm_ports(inputs: Inputs, project: str) -> list[dict[str, Any]]:
    return [p for p in inputs.cloud["ports"] if p["project_id"] == project and p["device_owner"] == "compute:nova"]


def test_the_path_at_each_past_revision_is_the_path_that_was_live_then() -> None:
    inputs = Inputs(hosts=3, ports=12, projects=2)
    add_gateways_and_fips(inputs.cloud, inputs.reports, fip_every=4)
    inputs.store_all()
    who = {
        "admin": logged_in(Client(), caller("admin", "admin-project", admin=True)),
        "demo": logged_in(Client(), caller("member-demo", DEMO)),
        "alt": logged_in(Client(), caller("member-alt", ALT)),
    }
    ports = {DEMO: vm_ports(inputs, DEMO)[0], ALT: vm_ports(inputs, ALT)[0]}
    srcs = {
        "admin": f"port:{ports[DEMO]['id']}",
        "demo": f"port:{ports[DEMO]['id']}",
        "alt": f"port:{ports[ALT]['id']}",
    }
    live: dict[int, dict[str, dict[str, Any]]] = {}

    def keep() -> int:
        revision, _ = rebuild()
        live[revision] = {name: ask(client, srcs[name]) for name, client in who.items()}
        assert all(answer["revision"] == revision for answer in live[revision].values())
        return revision

    first = keep()
    steps: dict[str, int] = {}
    for project in (DEMO, ALT):
        ports[project]["admin_state_up"] = False
        inputs.store_cloud()
        steps[f"down {project}"] = keep()
        ports[project]["admin_state_up"] = True
        inputs.store_cloud()
        steps[f"up {project}"] = keep()
    assert GraphRevision.objects.filter(checkpoint_gz__isnull=True).count() >= 2  # some replayed from deltas
    assert live[first]["demo"]["verdict"] == live[first]["alt"]["verdict"] == "ok"
    broken = steps[f"down {DEMO}"]
    assert live[broken]["demo"]["verdict"] == live[broken]["admin"]["verdict"] == "broken"
    assert live[broken]["alt"]["verdict"] == "ok" and live[steps[f"down {ALT}"]]["alt"]["verdict"] == "broken"
    newest = max(live)
    for revision, answers in live.items():
        for name, answer in answers.items():
            got = ask(who[name], srcs[name], at=revision)
            marker = got.pop("past")
            assert marker["revision"] == revision and marker["live_revision"] == newest
            assert marker["at"] == GraphRevision.objects.get(revision=revision).at.isoformat()
            assert "today's" in marker["note"]
            assert got == answer, (revision, name)
    assert ask(who["demo"], srcs["demo"])["verdict"] == "ok"  # live again, without a marker
    assert "past" not in ask(who["demo"], srcs["demo"])


def test_a_member_at_a_revision_where_only_the_other_project_had_the_vm_gets_the_live_404_then() -> None:
    """demo vs alt and alt vs demo: each project's VM port removed at its own revision; asked at the
    revision before, the other project's port is the 404 the live API gave then, and nothing of it."""
    inputs = Inputs(hosts=3, ports=12, projects=2)
    add_gateways_and_fips(inputs.cloud, inputs.reports, fip_every=4)
    inputs.store_all()
    rebuild()
    ids = {p: owned_ids(inputs, p) for p in (DEMO, ALT)}
    who = {DEMO: logged_in(Client(), caller("member-demo", DEMO)), ALT: logged_in(Client(), caller("member-alt", ALT))}
    gone: dict[str, tuple[str, int]] = {}
    then: dict[tuple[str, str], tuple[int, bytes]] = {}  # (asker, whose port) -> the live answer at `before`
    for project in (DEMO, ALT):
        port = vm_ports(inputs, project)[-1]
        port["name"] = f"secret-port-of-{project[:6]}"
        inputs.store_cloud()
        before, _ = rebuild()
        for asker in (DEMO, ALT):
            response = who[asker].get(URL, {"src": f"port:{port['id']}", "dst": OUTSIDE})
            then[(asker, project)] = (response.status_code, response.content)
        inputs.cloud["ports"].remove(port)
        for fip in inputs.cloud["floatingips"]:
            if fip.get("port_id") == port["id"]:
                fip.update(port_id=None, fixed_ip_address=None)
        inputs.store_cloud()
        rebuild()
        gone[project] = (f"port:{port['id']}", before)
    admin = logged_in(Client(), caller("admin", "admin-project", admin=True))
    newest = GraphRevision.objects.order_by("-revision").values_list("revision", flat=True).first() or 0
    for project, other in ((DEMO, ALT), (ALT, DEMO)):
        client = who[project]
        theirs, their_revision = gone[other]
        mine, my_revision = gone[project]
        assert ask(admin, theirs, at=their_revision)["src"]["node"] == theirs  # it was there then
        assert ask(client, mine, at=my_revision)["src"]["node"] == mine  # and its own, at its revision
        ask(client, mine, status=404)  # gone now
        status, content = then[(project, other)]
        assert status == 404
        refused = client.get(URL, {"src": theirs, "dst": OUTSIDE, "at": str(their_revision)})
        assert (refused.status_code, refused.content) == (status, content)  # as the live API refused it then
        nobody = "port:00000000-0000-4000-8000-000000000000"
        for revision in range(1, newest + 1):
            answers = [client.get(URL, {"src": src, "dst": OUTSIDE, "at": str(revision)}) for src in (mine, theirs)]
            assert answers[1].status_code == 404  # never theirs to see, at any revision
            unknown = client.get(URL, {"src": nobody, "dst": OUTSIDE, "at": str(revision)}).content
            # Gone at that revision, the id typed is echoed as for an id nobody has (the asker's own text).
            echoed = unknown.replace(g.id_key(nobody).encode(), g.id_key(theirs).encode())
            text = (answers[0].content + (b"" if answers[1].content == echoed else answers[1].content)).decode()
            assert other not in text and f"secret-port-of-{other[:6]}" not in text
            leaked = [i for i in ids[other] if i in text]
            assert not leaked, (project, revision, text[:400])


def test_bad_or_unknown_revisions_and_what_at_does_not_combine_with() -> None:
    inputs = Inputs(hosts=2, ports=6, projects=2)
    add_gateways_and_fips(inputs.cloud, inputs.reports, fip_every=2)
    inputs.store_all()
    revision, _ = rebuild()
    demo = logged_in(Client(), caller("member-demo", DEMO))
    src = f"port:{vm_ports(inputs, DEMO)[0]['id']}"
    for bad in ("x", "0", "-1", "1.5", "²", " 1"):
        assert "at must be a positive integer" in ask(demo, src, status=400, at=bad)["detail"]
    assert "not in the history" in ask(demo, src, at=str(2**70), status=404)["detail"]
    missing = ask(demo, src, at=revision + 7, status=404)
    assert (missing["oldest"], missing["newest"]) == (1, revision) and "not in the history" in missing["detail"]
    for extra in ({"since": "1"}, {"verify": "1"}):
        assert "asked of the live path" in ask(demo, src, at=revision, status=400, **extra)["detail"]
    assert Client().get(URL, {"src": src, "dst": OUTSIDE, "at": str(revision)}).status_code in (401, 403)
