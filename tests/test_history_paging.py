"""The timeline's listing paged (GET /api/v1/topology/history/?before=<revision>&limit=N), for tenants both ways.

On the synthetic cloud stored and joined for real, demo's (project 0) and alt's (project 1)
VM ports go DOWN and back ACTIVE in turn, one revision each, by jobs of their own projects. The
listing is walked page by page (a small limit, the cursor ``next_before`` of each page as the
next ``before``) as the map's timeline walks it to the left: the pages are disjoint, newest
first, and together the same as one big page; a member's older pages hold its own revisions
and nothing of the other project's (revisions, port ids, job users), the admin's every revision.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tasks.models import Job, JobKind, JobState
from tests.browser import caller
from tests.history_inputs import Inputs, rebuild
from tests.test_history import URL, logged_in, two_projects

pytestmark = pytest.mark.django_db


def pages(client: Client, limit: int) -> list[dict[str, Any]]:
    """Every page from the newest, following next_before; each page's body."""
    out: list[dict[str, Any]] = []
    before = ""
    while True:
        response = client.get(URL + f"?limit={limit}" + (f"&before={before}" if before else ""))
        assert response.status_code == 200, response.content
        out.append(response.json())
        if out[-1]["next_before"] is None:
            return out
        assert before == "" or out[-1]["next_before"] < int(before)  # the cursor moves left, always
        before = str(out[-1]["next_before"])
        assert len(out) < 100


def flip(inputs: Inputs, port: dict[str, Any], project: str, status: str) -> int:
    Job.objects.create(
        kind=JobKind.FIP_RELEASE,
        user_id=f"u-{project}",
        user_name=f"user-of-{project[:6]}",
        project_id=project,
        target=port["id"],
        state=JobState.SUCCEEDED,
        finished_at=timezone.now(),
    )
    port["status"] = status
    inputs.store_cloud()
    revision, _ = rebuild()
    return revision


def test_older_pages_of_a_tenant_hold_its_own_revisions_only_both_ways() -> None:
    inputs, demo, alt, port_of = two_projects()
    made: dict[str, set[int]] = {demo: set(), alt: set()}
    for round_ in range(4):
        for project in (demo, alt):
            made[project].add(flip(inputs, port_of[project], project, "DOWN" if round_ % 2 == 0 else "ACTIVE"))
    admin = logged_in(Client(), caller("admin", "admin-project", admin=True))
    whole = admin.get(URL + "?limit=200").json()
    assert whole["next_before"] is None
    admin_pages = pages(admin, 3)
    assert len(admin_pages) >= 3
    paged = [r["revision"] for page in admin_pages for r in page["revisions"]]
    assert paged == [r["revision"] for r in whole["revisions"]]  # disjoint, newest first, nothing missed
    assert made[demo] | made[alt] <= set(paged)
    for project, other in ((demo, alt), (alt, demo)):
        member = logged_in(Client(), caller(f"member-{project[:4]}", project))
        one = member.get(URL + "?limit=200").json()
        mine = pages(member, 3)
        assert len(mine) >= 3
        revisions = [r["revision"] for page in mine for r in page["revisions"]]
        assert revisions == [r["revision"] for r in one["revisions"]]
        assert revisions == sorted(revisions, reverse=True) and len(set(revisions)) == len(revisions)
        assert made[project] <= set(revisions)
        assert not made[other] & set(revisions)
        older = str(mine[1:])  # the pages the timeline loads at its left edge
        assert made[project] & {r["revision"] for page in mine[1:] for r in page["revisions"]}  # its own, older
        assert other not in older and port_of[other]["id"] not in older and f"user-of-{other[:6]}" not in older
