"""/metrics: who may scrape it, and values that move with real actions (reports, jobs, revisions)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from tasks.jobs import finish
from tasks.models import Job, JobKind, JobState
from tests.browser import caller, session_for
from tests.history_inputs import Inputs, rebuild
from topology.models import HostReport
from topology.services import issue_agent_token

pytestmark = pytest.mark.django_db
URL = "/metrics"
TOKEN = "scrape-token-for-the-tests"


@pytest.fixture
def token(settings: Any) -> str:
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def scrape(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the scrape, by name and labels, parsed by prometheus_client's own parser."""
    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def logged_in(who: Any) -> Client:
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = session_for(who)
    return client


def test_only_the_scrape_token_or_an_admin_session_may_scrape(token: str) -> None:
    anonymous = Client().get(URL)
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"].startswith("Bearer")
    assert Client().get(URL, HTTP_AUTHORIZATION="Bearer not-the-token").status_code == 401
    assert Client().get(URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}x").status_code == 401
    tenant = logged_in(caller("demo", "demo-project")).get(URL)
    assert tenant.status_code == 403 and b"neutron_map" not in tenant.content
    admin = logged_in(caller("admin", "admin-project", admin=True)).get(URL)
    assert admin.status_code == 200 and b"neutron_map_graph_revision" in admin.content
    assert Client().get(URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_without_a_configured_token_no_bearer_is_accepted(settings: Any) -> None:
    settings.METRICS_TOKEN = ""
    assert Client().get(URL, HTTP_AUTHORIZATION="Bearer ").status_code == 401
    assert Client().get(URL, HTTP_AUTHORIZATION="Bearer anything").status_code == 401


def test_a_report_resets_its_hosts_age_and_is_timed(client: Client, token: str) -> None:
    inputs = Inputs()
    inputs.store_all()
    rebuild()
    host = sorted(inputs.reports)[1]  # a compute host: its synthetic report is a valid one (no namespaces)
    HostReport.objects.filter(host=host).update(received_at=timezone.now() - timedelta(hours=2))
    before = scrape(client)
    age = ("neutron_map_host_report_age_seconds", (("host", host),))
    assert before[age] > 7000
    assert before[("neutron_map_host_stale", (("host", host),))] == 1
    assert before[("neutron_map_stale_hosts", ())] == 1
    timed = ("neutron_map_ingest_request_seconds_count", (("code", "202"),))
    report = {**inputs.reports[host], "collected_at": timezone.now().isoformat()}
    response = client.post(
        "/api/v1/agents/report/",
        json.dumps(report),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {issue_agent_token(host)}",
    )
    assert response.status_code == 202, response.content
    after = scrape(client)
    assert after[age] < 60
    assert after[("neutron_map_host_stale", (("host", host),))] == 0
    assert after[timed] == before.get(timed, 0) + 1
    assert after[("neutron_map_graph_revision", ())] == response.json()["revision"]
    assert after[("neutron_map_graph_revision", ())] > before[("neutron_map_graph_revision", ())]
    # the host turned fresh again: that revision applied its report, so it has a writer lag
    assert 0 <= after[("neutron_map_writer_lag_seconds", ())] < 60
    assert after[("neutron_map_history_revisions", ())] == before[("neutron_map_history_revisions", ())] + 1


def test_jobs_are_counted_by_kind_and_state(client: Client, token: str) -> None:
    queued = ("neutron_map_jobs", (("kind", JobKind.GATEWAY_CLEAR), ("state", JobState.QUEUED)))
    failed = ("neutron_map_jobs", (("kind", JobKind.GATEWAY_CLEAR), ("state", JobState.FAILED)))
    assert (scrape(client)[queued], scrape(client)[failed]) == (0, 0)
    job = Job.objects.create(
        kind=JobKind.GATEWAY_CLEAR, user_id="u-demo", user_name="demo", project_id="p-demo", target="router-1"
    )
    assert (scrape(client)[queued], scrape(client)[failed]) == (1, 0)
    assert finish(job.pk, JobState.FAILED, "refused by the test")
    assert (scrape(client)[queued], scrape(client)[failed]) == (0, 1)


def test_agents_and_the_cloud_refresh_come_from_the_stored_snapshot(client: Client, token: str) -> None:
    inputs = Inputs()
    agent = inputs.cloud["agents"][0]
    agent["alive"] = False
    inputs.store_all()
    samples = scrape(client)
    labels = (("agent_type", agent["agent_type"]), ("host", agent["host"]))
    assert samples[("neutron_map_agent_alive", labels)] == 0
    alive = [k for k, v in samples.items() if k[0] == "neutron_map_agent_alive" and v == 1]
    assert len(alive) == len(inputs.cloud["agents"]) - 1
    assert samples[("neutron_map_cloud_api_calls_per_refresh", ())] == 9


def test_watched_paths_verdicts_and_last_change_by_id_only(client: Client, token: str) -> None:
    """A real watch (the API, a port DOWN in the stored cloud, the check the Celery task runs): its
    verdict and the time of its change on /metrics, labelled by the watch's id, never its endpoints."""
    from bench.path import add_gateways_and_fips
    from tests.map_fixtures import project_of
    from tests.test_history import logged_in as history_client
    from tests.test_watch_fires import port_status, vms_of
    from topology.watches.check import check_revision

    inputs = Inputs(hosts=3, ports=12, projects=2)
    add_gateways_and_fips(inputs.cloud, inputs.reports)
    inputs.store_all()
    rebuild()
    port, other = vms_of(inputs, project_of(0))[:2]
    member = history_client(Client(), caller("member-demo", project_of(0)))
    made = member.post(
        "/api/v1/watches/", {"src": "port:" + port["id"], "dst": "port:" + other["id"]}, "application/json"
    ).json()
    pk = str(made["id"])
    before = scrape(client)
    assert before[("neutron_map_watch_verdict", (("verdict", "ok"), ("watch_id", pk)))] == 1
    assert before[("neutron_map_watch_verdict", (("verdict", "broken"), ("watch_id", pk)))] == 0
    assert (
        before[("neutron_map_watches", (("verdict", "ok"),))],
        before[("neutron_map_watches", (("verdict", "broken"),))],
    ) == (1, 0)
    changed = ("neutron_map_watch_last_change_timestamp_seconds", (("watch_id", pk),))
    assert changed not in before  # no verdict change yet
    (event,) = check_revision(port_status(inputs, port["id"], "DOWN"))
    after = scrape(client)
    assert after[("neutron_map_watch_verdict", (("verdict", "broken"), ("watch_id", pk)))] == 1
    assert after[("neutron_map_watch_verdict", (("verdict", "ok"), ("watch_id", pk)))] == 0
    assert (
        after[("neutron_map_watches", (("verdict", "ok"),))],
        after[("neutron_map_watches", (("verdict", "broken"),))],
    ) == (0, 1)
    assert after[changed] == event.at.timestamp()
    text = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    watch_lines = [line for line in text.splitlines() if line.startswith("neutron_map_watch")]
    assert watch_lines and not any(port["id"] in line or other["id"] in line for line in watch_lines)
    assert all(
        set(dict(labels)) <= {"watch_id", "verdict"} for name, labels in after if name.startswith("neutron_map_watch")
    )
