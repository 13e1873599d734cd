"""A member's view of a revision made from the indexed graph (topology/path_view.py), off the lab.

Differential: the synthetic cloud stored and joined for real by the graph service, churned as
tests/test_path_graph.py churns it (bench/history.py's mix, a floating IP moved, a router's gateway
cleared and set again, a VM port's address changed; one to three revisions between two questions);
after each, for every project, the view made from the moved Topo equals ``scope_graph`` of the stored
graph (nodes and edges as multisets), the tokens counted and moved on equal the tokens counted afresh,
and the secrets equal ``Secrets.of``; the same at every past revision (``?at=``: topology/history/path_at.py).
Then tenant isolation through the API: each project's member asks
``since=1`` about its own VMs and about the other project's; nothing of the other project (ids, the
prefixes devices are named by) is in any answer or error, at new revisions and at past ones.
"""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest
from django.test import Client

from bench.path import OUTSIDE, add_gateways_and_fips
from bench.synthetic import synthetic_cloud
from tests.browser import caller
from tests.history_inputs import Inputs, owned_ids, rebuild
from tests.test_history import logged_in
from tests.test_path_graph import change
from tests.test_scope import fip_namespace_graph
from tests.test_scope import project as project_number
from topology import path_graph
from topology.api_path import project_view
from topology.history import window
from topology.history.delta import canonical
from topology.history.path_at import forget as forget_past
from topology.history.path_at import past_indexed, past_project_view
from topology.join import join
from topology.models import GraphState
from topology.path import Topo
from topology.path_scope import Secrets
from topology.path_view import TokenCount, scope_topo
from topology.scope import scope_graph

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def nothing_held() -> None:
    path_graph.forget()
    window.forget()
    forget_past()


def projects(inputs: Inputs) -> list[str]:
    return sorted({p["project_id"] for p in inputs.cloud["ports"] if p.get("project_id")})


def test_the_view_of_a_topo_is_scope_graphs_on_the_scope_tests_clouds() -> None:
    cloud, reports = synthetic_cloud(hosts=2, ports=6, projects=2)
    fip_graph, _ = fip_namespace_graph()
    for graph in (join(cloud, reports).to_dict(), fip_graph):
        topo, tokens = Topo(graph, {}), TokenCount.of(graph["nodes"])
        for p in (0, 1):
            expected = scope_graph(graph, "full", project_number(p))
            assert canonical(scope_topo(topo, project_number(p))) == canonical(expected)
            ids = {n["id"] for n in expected["nodes"]}
            assert tokens.secrets(topo.nodes, ids) == Secrets.of(graph["nodes"], ids)
    assert any(n["id"].startswith("netns:") and ":fip-" in n["id"] for n in fip_graph["nodes"])


def test_the_view_from_the_moved_topo_is_scope_graphs_at_every_revision() -> None:
    inputs = Inputs(hosts=4, ports=16, projects=2)
    add_gateways_and_fips(inputs.cloud, inputs.reports, fip_every=3)
    inputs.store_all()
    rebuild()
    path_graph.current_indexed().tokens()  # counted once: moved on from here
    rng = random.Random(18)
    moved = 0
    for n in range(24):
        for _ in range(1 + n % 3):
            change(inputs, rng, n)
            rebuild()
        indexed = path_graph.current_indexed()
        moved += indexed.how == "moved" and indexed.counted is not None
        graph = GraphState.objects.get(id=1).graph
        assert indexed.tokens() == TokenCount.of(graph["nodes"]), n
        for project in projects(inputs):
            visible = scope_graph(graph, "full", project)
            ids = {node["id"] for node in visible["nodes"]}
            got = scope_topo(indexed.topo, project)
            assert canonical(got) == canonical(visible), (n, project)
            assert len(got["nodes"]) == len(visible["nodes"]) and len(got["edges"]) == len(visible["edges"])
            assert indexed.tokens().secrets(indexed.topo.nodes, ids) == Secrets.of(graph["nodes"], ids), (n, project)
            assert project_view(indexed, project) == (got, Secrets.of(graph["nodes"], ids))
    assert moved >= 20  # all but where a revision made nothing new


def answers_of(client: Client, ports: list[str]) -> list[tuple[int, str]]:
    out = []
    for port in ports:
        response = client.get(f"/api/v1/path/?src=port:{port}&dst={OUTSIDE}&since=1")
        out.append((response.status_code, orjson.dumps(response.json()).decode()))
    return out


def test_a_member_gets_nothing_of_the_other_project_at_a_new_revision() -> None:
    inputs = Inputs(hosts=4, ports=16, projects=2)
    add_gateways_and_fips(inputs.cloud, inputs.reports, fip_every=3)
    inputs.store_all()
    rebuild()
    demo, alt = projects(inputs)
    vms = {
        project: [
            p["id"] for p in inputs.cloud["ports"] if p["device_owner"] == "compute:nova" and p["project_id"] == project
        ]
        for project in (demo, alt)
    }
    rng = random.Random(5)
    for n in range(4):  # each question at a new revision: the view made from a moved Topo
        change(inputs, rng, n)
        rebuild()
        for me, other in ((demo, alt), (alt, demo)):
            client = logged_in(Client(), caller(f"member-{me}", me))
            own = answers_of(client, vms[me])
            theirs = answers_of(client, vms[other])
            assert [status for status, _ in own] == [200] * len(own), own[:1]
            assert {status for status, _ in theirs} == {404}, theirs[:1]
            text = " ".join(body for _, body in own + theirs).lower()
            secret = {t for uuid in owned_ids(inputs, other) for t in (uuid, uuid[:11], uuid.replace("-", "")[:11])}
            leaked = sorted(t for t in secret if t.lower() in text)
            assert not leaked, (me, leaked[:5])
            assert '"since"' in text  # the own answers carry what changed
    assert path_graph.current_indexed().how == "moved"


def test_at_a_past_revision_the_view_is_scope_graphs_and_holds_nothing_of_the_other_project(settings: Any) -> None:
    settings.HISTORY_CHECKPOINT_EVERY = 4
    inputs = Inputs(hosts=4, ports=16, projects=2)
    add_gateways_and_fips(inputs.cloud, inputs.reports, fip_every=3)
    inputs.store_all()
    first, _ = rebuild()
    rng = random.Random(7)
    for n in range(7):
        change(inputs, rng, n)
        rebuild()
    demo, alt = projects(inputs)
    vms = {
        project: [
            p["id"] for p in inputs.cloud["ports"] if p["device_owner"] == "compute:nova" and p["project_id"] == project
        ]
        for project in (demo, alt)
    }
    last = GraphState.objects.get(id=1).revision
    for revision in range(first, last + 1):
        key, graph, topo = past_indexed(revision)
        for project in (demo, alt):
            visible, secrets = past_project_view(key, topo, project)
            expected = scope_graph(graph, "full", project)
            assert canonical(visible) == canonical(expected), (revision, project)
            assert secrets == Secrets.of(graph["nodes"], {n["id"] for n in expected["nodes"]}), (revision, project)
        for me, other in ((demo, alt), (alt, demo)):
            client = logged_in(Client(), caller(f"member-{me}", me))
            bodies = []
            for port in vms[me] + vms[other]:
                response = client.get(f"/api/v1/path/?src=port:{port}&dst={OUTSIDE}&at={revision}")
                assert response.status_code == (200 if port in vms[me] else 404), (revision, me, response.content[:200])
                bodies.append(orjson.dumps(response.json()).decode().lower())
            secret = {t for uuid in owned_ids(inputs, other) for t in (uuid, uuid[:11], uuid.replace("-", "")[:11])}
            text = " ".join(bodies)
            assert not sorted(t for t in secret if t.lower() in text), (revision, me)
