"""The Jobs API and the pages' shells without a cloud: who sees which job, what each role is offered."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from tasks.models import AuditEntry, Job, JobState
from tests.browser import caller, session_for

pytestmark = [pytest.mark.django_db]

DEMO, ALT, ADMIN = caller("demo", "p-demo"), caller("alt", "p-alt"), caller("admin", "p-admin", admin=True)


def client_for(who: object) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.cookies["sessionid"] = session_for(who)  # type: ignore[arg-type]
    return client


def page_config(html: str) -> dict[str, object]:
    match = re.search(r'<script id="page-config" type="application/json">(.*?)</script>', html, re.S)
    assert match, html[:500]
    return dict(json.loads(match.group(1)))


def test_it_shows_a_job_to_its_actor_and_the_admin_only() -> None:
    job = Job.objects.create(
        kind="floatingip.release",
        user_id=DEMO.user_id,
        user_name="demo",
        project_id="p-demo",
        target="fip-1",
        state=JobState.SUCCEEDED,
        progress=100,
    )
    AuditEntry.objects.create(
        user_id=DEMO.user_id,
        user_name="demo",
        project_id="p-demo",
        action="floatingip.release",
        target="fip-1",
        result="succeeded",
        job=job,
    )
    demo, alt, admin = client_for(DEMO), client_for(ALT), client_for(ADMIN)
    body = demo.get(f"/api/v1/jobs/{job.pk}/").json()
    assert {k: body[k] for k in ("id", "kind", "state", "progress", "message", "result")} == {
        "id": job.pk,
        "kind": "floatingip.release",
        "state": "succeeded",
        "progress": 100,
        "message": "",
        "result": None,
    }
    assert alt.get(f"/api/v1/jobs/{job.pk}/").status_code == 404
    assert alt.get("/api/v1/jobs/").json()["jobs"] == []
    assert alt.get("/api/v1/audit/").json()["entries"] == []
    assert admin.get(f"/api/v1/jobs/{job.pk}/").status_code == 200
    assert [e["user_name"] for e in admin.get("/api/v1/audit/").json()["entries"]] == ["demo"]
    assert Client().get(f"/api/v1/jobs/{job.pk}/").status_code in (401, 403)


def test_the_pages_offer_only_what_the_role_may() -> None:
    member = page_config(client_for(DEMO).get("/routers/").content.decode())
    assert member["can"] == {
        "allocate": True,
        "associate": True,
        "disassociate": True,
        "release": True,
        "gateway": True,
        "enable_snat": False,
        "interfaces": True,
        "rules": True,
        "all_projects": False,
    }
    admin = page_config(client_for(ADMIN).get("/routers/").content.decode())
    assert admin["can"]["enable_snat"] is True  # type: ignore[index]
    reader = caller("reader", "p-demo")
    reader = type(reader)(**{**reader.to_dict(), "roles": ("reader",)})
    html = client_for(reader).get("/floating-ips/").content.decode()
    assert not any(page_config(html)["can"][k] for k in ("allocate", "associate", "release", "rules"))  # type: ignore[index]
    assert 'id="allocate-form"' not in html
    assert 'id="allocate-form"' in client_for(DEMO).get("/floating-ips/").content.decode()


def test_the_pages_need_a_login() -> None:
    for path in ("/floating-ips/", "/routers/", "/security-groups/", "/jobs/"):
        response = Client().get(path)
        assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert client_for(DEMO).get("/jobs/").status_code == 200
