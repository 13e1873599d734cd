"""The prune task with real rows of each kind, on each side of its retention bound."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from dashboard.celery import app
from tasks import retention
from tasks.models import AuditEntry, Job, JobKind, JobState
from tasks.tasks import prune
from topology.models import HostReportChange

pytestmark = [pytest.mark.django_db(transaction=True)]

DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)


@pytest.fixture
def bounds(settings: Any) -> None:
    settings.RETAIN_REPORT_CHANGES_DAYS = 7
    settings.RETAIN_AUDIT_DAYS = 90
    settings.RETAIN_JOBS_DAYS = 30


def change(age: timedelta) -> HostReportChange:
    return HostReportChange.objects.create(host="compute1", received_at=timezone.now() - age, summary={})


def audit_entry(age: timedelta, job: Job | None = None) -> AuditEntry:
    entry = AuditEntry.objects.create(
        user_id="u-demo",
        user_name="demo",
        project_id="p-demo",
        action=JobKind.FIP_RELEASE,
        target="fip-1",
        result="accepted",
        job=job,
    )
    AuditEntry.objects.filter(pk=entry.pk).update(at=timezone.now() - age)  # `at` is auto_now_add
    return entry


def job(state: str, finished_age: timedelta | None) -> Job:
    return Job.objects.create(
        kind=JobKind.FIP_RELEASE,
        user_id="u-demo",
        user_name="demo",
        project_id="p-demo",
        target="fip-1",
        state=state,
        finished_at=timezone.now() - finished_age if finished_age is not None else None,
    )


def ids(model: Any) -> set[int]:
    return set(model.objects.values_list("pk", flat=True))


def test_it_prunes_each_kind_past_its_bound_and_keeps_the_rest(bounds: None) -> None:
    new_change = change(7 * DAY - 60 * SECOND)
    old_change = change(7 * DAY + SECOND)
    old_job, new_job = job(JobState.SUCCEEDED, 30 * DAY + SECOND), job(JobState.FAILED, 30 * DAY - 60 * SECOND)
    # Never finished (the reaper ends it first): kept however old.
    stuck = job(JobState.QUEUED, None)
    Job.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - 400 * DAY)
    old_entry, new_entry = audit_entry(90 * DAY + SECOND), audit_entry(90 * DAY - 60 * SECOND)
    of_old_job = audit_entry(DAY, old_job)

    counts = prune.apply().get()

    assert counts == {
        "topology.retention.prune_report_changes": 1,
        "topology.history.retention.prune_history": 0,  # no graph history in this test (tests/test_history.py)
        "tasks.retention.prune_audit_entries": 1,
        "tasks.retention.prune_jobs": 1,
    }
    assert ids(HostReportChange) == {new_change.pk} and old_change.pk not in ids(HostReportChange)
    assert ids(Job) == {new_job.pk, stuck.pk}
    assert ids(AuditEntry) == {new_entry.pk, of_old_job.pk}
    assert old_entry.pk not in ids(AuditEntry)
    of_old_job.refresh_from_db()
    assert of_old_job.job_id is None  # who did what stays in the audit log after its job is pruned
    assert prune.apply().get() == dict.fromkeys(retention.PRUNERS, 0)  # nothing left to prune


def test_the_bounds_come_from_settings(settings: Any) -> None:
    settings.RETAIN_REPORT_CHANGES_DAYS = 1
    kept_at_half_a_day, pruned_at_1_day = change(12 * 3600 * SECOND), change(DAY + SECOND)
    retention.prune_all(timezone.now())
    assert ids(HostReportChange) == {kept_at_half_a_day.pk}
    assert pruned_at_1_day.pk not in ids(HostReportChange)


def test_one_failing_pruner_does_not_stop_the_others(bounds: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retention, "PRUNERS", ("tasks.retention.no_such_pruner", *retention.PRUNERS))
    change(8 * DAY)
    counts = retention.prune_all(timezone.now())
    assert counts["tasks.retention.no_such_pruner"] == -1
    assert counts["topology.retention.prune_report_changes"] == 1 and not HostReportChange.objects.exists()


def test_beat_runs_the_prune_the_reaper_and_the_refresh() -> None:
    schedule = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {"tasks.prune", "tasks.reap_jobs", "tasks.refresh_cloud"} <= schedule
    assert {"tasks.prune", "tasks.reap_jobs"} <= set(app.tasks)
