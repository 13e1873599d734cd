"""What changed before a path broke (issue 18 item 3), against the real lab (allinone).

A path is broken for real by a job run by demo through the API and a real Celery
worker (router1's gateway cleared; the ICMP and SSH rules of demo's default group
removed), the graph refreshed as the beat would, and ``GET /api/v1/path/?...&since=1``
must name exactly that change, its cause ("job N by demo") and its time; alt asking
about demo's path learns nothing (404), and alt's own ``since`` holds none of demo's
names (tests/leak_check.py).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from django.test import Client

from tasks.models import Job
from tests.leak_check import leaks, project_secrets
from tests.test_actions_confirm_lab import Cloud, run
from tests.test_actions_confirm_lab import feed as feed  # the fixtures this module uses
from tests.test_actions_confirm_lab import restored as restored
from tests.test_actions_confirm_lab import worker as worker
from tests.test_actions_lab import call, login
from tests.test_actions_lab import shared_broker_restored as shared_broker_restored  # autouse there, so here too
from tests.test_topology_lab import refresh_all
from topology.history.causes import JOB_WINDOW

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]

OUTSIDE = "192.168.1.1"


def since(client: Client, src: str, dst: str) -> dict[str, Any]:
    response = call(client, "GET", f"/path/?src={src}&dst={dst}&since=1")
    assert response.status_code == 200, response.content[:500]
    body: dict[str, Any] = response.json()
    return body


def made_by(body: dict[str, Any], job: Job, text: str) -> list[dict[str, Any]]:
    """The changes of ``body['since']`` saying ``text`` and naming ``job`` by demo as their cause."""
    return [c for c in body["since"]["changes"] if text in c["change"] and f"job {job.pk} by demo" in c["cause"]]


def assert_names(body: dict[str, Any], job: Job, text: str) -> None:
    since_ = body["since"]
    assert body["verdict"] == "broken", body
    assert since_["verdict"] == "broken" and since_["verdict_since"], since_
    assert since_["verdict_since"]["was"] == "ok", since_
    named = made_by(body, job, text)
    assert named, since_["changes"]
    # The job's effect may come in pieces (the agent's report of a device gone, then the cloud
    # refresh): the verdict changed at one of the job's revisions, at or before the one naming it.
    at = since_["verdict_since"]
    assert named[-1]["revision"] >= at["revision"], since_
    broke = [c for c in since_["changes"] if c["revision"] == at["revision"]]
    assert broke and all(f"job {job.pk} by demo" in c["cause"] for c in broke), broke
    assert job.finished_at is not None and job.created_at is not None
    assert job.created_at <= datetime.fromisoformat(at["at"]) <= job.finished_at + JOB_WINDOW, (at, job.finished_at)
    assert text in since_["headline"] and f"job {job.pk} by demo" in since_["headline"], since_["headline"]


@pytest.mark.usefixtures("worker", "restored")
def test_a_cleared_gateway_is_what_changed_with_its_job_and_time(
    lab: dict[str, Any],
    admin_cloud: Cloud,
) -> None:
    demo, alt = login(lab, "demo"), login(lab, "alt")
    run(demo, "POST", f"/floating-ips/{lab['floating_ips']['cirros-01']['id']}/disassociate/")  # Neutron needs it
    refresh_all(lab["host"])
    ubuntu = "port:" + lab["vms"]["ubuntu-01"]["port_id"]
    before = since(demo, ubuntu, OUTSIDE)
    assert before["verdict"] == "ok" and before["since"]["verdict"] == "ok", before
    router = lab["routers"]["router1"]["id"]
    job = run(demo, "DELETE", f"/routers/{router}/gateway/")
    assert job.message.startswith("gateway cleared"), job.message
    refresh_all(lab["host"])
    after = since(demo, ubuntu, OUTSIDE)
    assert_names(after, job, "router1's gateway cleared")
    # alt may not name demo's port: the same 404 as for a port that does not exist, nothing of demo in it.
    response = call(alt, "GET", f"/path/?src={ubuntu}&dst={OUTSIDE}&since=1")
    assert response.status_code == 404
    secrets = project_secrets(admin_cloud, lab["projects"]["demo"], lab["projects"]["alt"], {})
    assert not leaks(response.content.decode(), secrets)
    # alt's own question toward demo's address (outside, to alt), since included: nothing of demo.
    address = lab["vms"]["ubuntu-01"]["ip"]
    theirs = call(alt, "GET", f"/path/?src={OUTSIDE}&dst={address}&since=1")
    assert not leaks(theirs.content.decode(), secrets - {address}), theirs.content[:500]
    # And the other way: demo's answer holds nothing of alt's.
    alt_secrets = project_secrets(admin_cloud, lab["projects"]["alt"], lab["projects"]["demo"], {})
    assert not leaks(json.dumps(after), alt_secrets)


@pytest.mark.usefixtures("worker", "restored")
def test_a_removed_icmp_rule_is_what_changed_with_its_job_and_time(
    lab: dict[str, Any],
) -> None:
    refresh_all(lab["host"])
    demo = login(lab, "demo")
    group = lab["security_groups"]["demo:default"]
    address = lab["floating_ips"]["cirros-01"]["floating_ip_address"]
    assert since(demo, OUTSIDE, address)["verdict"] == "ok"
    job = run(demo, "DELETE", f"/security-groups/{group}/open-icmp-ssh/")
    refresh_all(lab["host"])
    after = since(demo, OUTSIDE, address)
    assert_names(after, job, "security group default: rule ingress icmp from ")
    assert any(c["change"].endswith(" removed") for c in made_by(after, job, "rule ingress icmp from ")), after["since"]
    run(demo, "POST", f"/security-groups/{group}/open-icmp-ssh/")
    refresh_all(lab["host"])
    back = since(demo, OUTSIDE, address)
    assert back["verdict"] == "ok" and back["since"]["verdict_since"]["was"] == "broken", back["since"]
