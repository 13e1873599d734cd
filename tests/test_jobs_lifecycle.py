"""Jobs that must end: a broker that is down, the reaper, the attempts cap (real Redis, no cloud).

The actions are not run here (no cloud): these tests are about the job's row,
its lock and its credential. The same through the real API and a real worker
against the lab is in test_jobs_queue_lab.py.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from tasks import credentials, jobs
from tasks.models import AuditEntry, Job, JobCredential, JobKind, JobState
from tasks.reaper import reap_stuck_jobs
from tests.browser import caller
from tests.redis_server import own_redis

pytestmark = [pytest.mark.django_db(transaction=True)]

DEMO = caller("demo", "p-demo")
BODY: dict[str, Any] = {"token": {"catalog": []}}


def unfinished(job: Job) -> None:
    job.refresh_from_db()
    assert job.state in (JobState.QUEUED, JobState.RUNNING) and job.lock is not None
    assert JobCredential.objects.filter(job=job).exists()


def failed_and_free(job: Job, words: str) -> None:
    job.refresh_from_db()
    assert job.state == JobState.FAILED and words in job.message, job.message
    assert job.lock is None and job.finished_at is not None
    assert not JobCredential.objects.filter(job=job).exists()
    assert AuditEntry.objects.filter(job=job, result="failed", message=job.message).exists()


def test_it_fails_the_job_and_frees_its_object_when_redis_is_down(tmp_path: Path) -> None:
    with own_redis(tmp_path / "redis") as server:
        server.stop()
        with pytest.raises(jobs.QueueUnavailable) as refused:
            jobs.submit(DEMO, BODY, JobKind.FIP_DISASSOCIATE, "fip-1", {})
        job = Job.objects.get(pk=refused.value.job_id)
        failed_and_free(job, "the job queue (Redis) is unreachable")
        assert "nothing was done" in str(refused.value)
        server.start()
        again, created = jobs.submit(DEMO, BODY, JobKind.FIP_DISASSOCIATE, "fip-1", {})
        assert created and again.pk != job.pk and again.state == JobState.QUEUED
        assert server.client().llen("celery") == 1  # it really is in the broker now


def lost_job(who: Any = DEMO, state: str = JobState.QUEUED, target: str = "fip-1") -> Job:
    """A job row as submit() makes it, its message never sent (as if the broker lost it)."""
    job = Job.objects.create(
        kind=JobKind.FIP_DISASSOCIATE,
        user_id=who.user_id,
        user_name=who.user_name,
        project_id=who.project_id,
        target=target,
        lock=f"object:{target}",
        state=state,
    )
    credentials.store(job, who, BODY)
    return job


def test_it_reaps_a_job_queued_past_the_bound(settings: Any, tmp_path: Path) -> None:
    settings.JOB_MAX_AGE_SECONDS = 600
    job = lost_job()
    now = timezone.now()
    assert reap_stuck_jobs(now + timedelta(seconds=599)) == []  # within the bound: left alone
    unfinished(job)
    assert reap_stuck_jobs(now + timedelta(seconds=601)) == [job.pk]
    failed_and_free(job, "still queued 10 min after it was accepted")
    assert reap_stuck_jobs(now + timedelta(seconds=700)) == []  # once
    with own_redis(tmp_path / "redis") as server:  # never the shared broker: others' workers would take it
        again, created = jobs.submit(DEMO, BODY, JobKind.FIP_DISASSOCIATE, "fip-1", {})
        assert created and again.pk != job.pk  # the object is free: the next action is accepted
        assert server.client().llen("celery") == 1


def test_it_reaps_a_running_job_whose_worker_was_lost(settings: Any) -> None:
    settings.JOB_MAX_AGE_SECONDS = 600
    job = lost_job(state=JobState.RUNNING)
    assert reap_stuck_jobs(timezone.now() + timedelta(seconds=601)) == [job.pk]
    failed_and_free(job, "still running 10 min after it was accepted (its message or its worker was lost)")


def test_it_reaps_a_job_whose_token_expired_before_it_ran(settings: Any) -> None:
    settings.JOB_MAX_AGE_SECONDS = 3600
    soon = caller("demo", "p-demo", minutes=5)
    job, other = lost_job(soon), lost_job(DEMO, target="fip-2")
    assert reap_stuck_jobs(timezone.now() + timedelta(minutes=4)) == []
    assert reap_stuck_jobs(timezone.now() + timedelta(minutes=6)) == [job.pk]
    failed_and_free(job, "the Keystone token it acts with expired at")
    unfinished(other)  # its token (an hour) is still good


def test_it_reaps_a_job_that_lost_its_credential() -> None:
    job = lost_job()
    JobCredential.objects.filter(job=job).delete()
    assert reap_stuck_jobs(timezone.now()) == [job.pk]
    failed_and_free(job, "its credential is gone")


def test_it_leaves_finished_and_fresh_jobs_alone() -> None:
    fresh = lost_job()
    done = lost_job(target="fip-2")
    assert jobs.finish(done.pk, JobState.SUCCEEDED, "done")
    assert reap_stuck_jobs(timezone.now()) == []
    unfinished(fresh)
    done.refresh_from_db()
    assert (done.state, done.message) == (JobState.SUCCEEDED, "done")


def test_it_caps_attempts_of_a_job_redelivered_forever(settings: Any) -> None:
    settings.JOB_MAX_ATTEMPTS = 3
    job = lost_job()
    for attempt in (1, 2, 3):  # each worker dies mid-job: the message comes back
        started = jobs.start(job.pk)
        assert started is not None and started.attempts == attempt
    assert jobs.start(job.pk) is None
    failed_and_free(job, "gave up after 3 attempts")
    assert Job.objects.get(pk=job.pk).attempts == 3
