"""POST /api/v1/agents/report/: a real report is stored; every bad one is refused and changes nothing."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from django.test import Client

from topology import services
from topology.agent.collect import collect_report
from topology.join import digest
from topology.models import GraphState, HostReport, HostReportChange
from topology.report import MAX_REPORT_BYTES
from topology.services import issue_agent_token

URL = "/api/v1/agents/report/"
pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def real_report() -> dict[str, Any]:
    """What the node agent really collects on this machine (root namespace, namespaces, OVS if running)."""
    return dict(collect_report("node-a"))


def post(client: Client, body: bytes | str, token: str | None, **headers: Any) -> Any:
    extra: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.post(URL, body, content_type="application/json", **extra, **headers)


def stored() -> list[tuple[str, str]]:
    return [(r.host, json.dumps(r.report, sort_keys=True)) for r in HostReport.objects.order_by("host")]


def test_it_stores_a_real_report_and_bumps_the_revision(client: Client, real_report: dict[str, Any]) -> None:
    token = issue_agent_token("node-a")
    response = post(client, json.dumps(real_report), token)
    assert response.status_code == 202, response.content
    assert response.json()["host"] == "node-a"
    row = HostReport.objects.get(host="node-a")
    assert row.report == real_report
    state = GraphState.objects.get(id=1)
    assert response.json()["revision"] == state.revision
    assert any(n["id"] == "host:node-a" for n in state.graph["nodes"])
    lo = [n for n in state.graph["nodes"] if n["id"] == "iface:node-a:-:lo"]
    assert lo and "127.0.0.1/8" in lo[0]["attrs"]["addresses"]


def test_it_keeps_a_history_of_what_changed(client: Client, real_report: dict[str, Any]) -> None:
    token = issue_agent_token("node-a")
    assert post(client, json.dumps(real_report), token).status_code == 202
    empty_tables = {"nat": "", "filter": ""}
    namespace = {"name": "qdhcp-new", "interfaces": [], "routes": [], "rules": [], "iptables": empty_tables}
    changed = {**real_report, "namespaces": [*real_report["namespaces"], namespace]}
    assert post(client, json.dumps(changed), token).status_code == 202
    latest = HostReportChange.objects.filter(host="node-a").first()
    assert latest is not None
    assert latest.summary["namespaces"] == {"added": ["qdhcp-new"], "removed": []}


def test_its_digest_is_made_once_when_stored_and_the_rebuilds_reuse_the_host_part(
    client: Client, real_report: dict[str, Any]
) -> None:
    token = issue_agent_token("node-a")
    assert post(client, json.dumps(real_report), token).status_code == 202
    row = HostReport.objects.get(host="node-a")
    assert row.digest == (digest(row.report) or b"").hex() and len(row.digest) == 32
    # the same report again: the rebuild keeps node-a's part, found by the stored digest
    assert post(client, json.dumps(real_report), token).status_code == 202
    assert "node-a" not in services.JOIN_CACHE.rebuilt_hosts
    tables = {"nat": "", "filter": ""}
    namespace = {"name": "qdhcp-new", "interfaces": [], "routes": [], "rules": [], "iptables": tables}
    changed = {**real_report, "namespaces": [*real_report["namespaces"], namespace]}
    assert post(client, json.dumps(changed), token).status_code == 202
    assert services.JOIN_CACHE.rebuilt_hosts == ["node-a"]
    assert HostReport.objects.get(host="node-a").digest == (digest(changed) or b"").hex() != row.digest
    assert any(n["id"] == "netns:node-a:qdhcp-new" for n in GraphState.objects.get(id=1).graph["nodes"])


def test_it_accepts_gzip(client: Client, real_report: dict[str, Any]) -> None:
    token = issue_agent_token("node-a")
    body = gzip.compress(json.dumps(real_report).encode())
    response = post(client, body, token, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 202, response.content


@pytest.fixture
def accepted(client: Client, real_report: dict[str, Any]) -> tuple[str, list[tuple[str, str]], int]:
    token = issue_agent_token("node-a")
    assert post(client, json.dumps(real_report), token).status_code == 202
    return token, stored(), GraphState.objects.get(id=1).revision


def assert_unchanged(before: list[tuple[str, str]], revision: int) -> None:
    assert stored() == before
    assert GraphState.objects.get(id=1).revision == revision


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda r: {**r, "version": 2}, "version"),
        (lambda r: {**r, "namespaces": "qrouter-x"}, "namespaces"),
        (lambda r: {**r, "interfaces": [{"kind": "veth"}]}, "interfaces[0].name"),
        (lambda r: {k: v for k, v in r.items() if k != "collected_at"}, "collected_at"),
        (lambda r: {**r, "collected_at": "yesterday"}, "collected_at"),
        (lambda r: [r], "object"),
    ],
)
def test_it_refuses_malformed_reports_with_a_reason(
    client: Client,
    accepted: tuple[str, list[tuple[str, str]], int],
    real_report: dict[str, Any],
    mutate: Any,
    reason: str,
) -> None:
    token, before, revision = accepted
    response = post(client, json.dumps(mutate(real_report)), token)
    assert response.status_code == 400
    assert reason in response.json()["detail"], response.json()
    assert_unchanged(before, revision)


def test_it_refuses_bodies_that_are_not_json(client: Client, accepted: tuple[str, list[tuple[str, str]], int]) -> None:
    token, before, revision = accepted
    response = post(client, b'{"version": 1, "host": "node-a", ', token)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("report rejected: body:")
    assert_unchanged(before, revision)


def test_it_refuses_oversized_reports(
    client: Client, accepted: tuple[str, list[tuple[str, str]], int], real_report: dict[str, Any]
) -> None:
    token, before, revision = accepted
    padding = "x" * (MAX_REPORT_BYTES + 10)
    response = post(client, json.dumps({**real_report, "padding": padding}), token)
    assert response.status_code == 400
    assert "larger than" in response.json()["detail"]
    bomb = gzip.compress(json.dumps({**real_report, "padding": padding}).encode())
    response = post(client, bomb, token, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 400
    assert "larger than" in response.json()["detail"]
    assert_unchanged(before, revision)


def test_it_refuses_missing_and_unknown_tokens(
    client: Client, accepted: tuple[str, list[tuple[str, str]], int], real_report: dict[str, Any]
) -> None:
    _, before, revision = accepted
    for token in (None, "not-a-token"):
        response = post(client, json.dumps(real_report), token)
        assert response.status_code == 401
        assert "agent_token" in response.json()["detail"]
    assert_unchanged(before, revision)


def test_it_refuses_a_report_for_another_host(
    client: Client, accepted: tuple[str, list[tuple[str, str]], int], real_report: dict[str, Any]
) -> None:
    _, before, revision = accepted
    token_b = issue_agent_token("node-b")
    response = post(client, json.dumps(real_report), token_b)  # says host node-a
    assert response.status_code == 403
    assert "node-b" in response.json()["detail"]
    assert_unchanged(before, revision)


def test_a_new_token_replaces_the_old_one(client: Client, real_report: dict[str, Any]) -> None:
    old = issue_agent_token("node-a")
    new = issue_agent_token("node-a")
    assert post(client, json.dumps(real_report), old).status_code == 401
    assert post(client, json.dumps(real_report), new).status_code == 202
