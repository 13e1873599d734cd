"""Queueing through the real API with the real Redis stopped, crashed and restarted (real lab, real worker).

Each test runs its own Redis (tests/redis_server.py: bin/redis on a free port,
append-only as the dashboard runs it); the shared Redis on 6379 is never
touched. The worker is a real Celery worker on that Redis and this test's
database; the actions are real, as demo, through the real login.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openstack.connection
import pytest

from tasks.models import AuditEntry, Job, JobCredential, JobState
from tests.redis_server import OwnRedis, own_redis
from tests.test_actions_lab import accepted, call, fresh_fip, login, start_worker, stop_worker, wait_job

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]
__all__ = ["fresh_fip"]  # the fixture, used by name


@contextmanager
def worker_on(server: OwnRedis, log_name: str) -> Iterator[subprocess.Popen[bytes]]:
    """A real worker whose broker and Channels layer are this test's Redis."""
    proc = start_worker(log_name, CELERY_BROKER_URL=server.url, REDIS_URL=server.url)
    try:
        yield proc
    finally:
        stop_worker(proc)


def test_it_answers_503_and_frees_the_object_while_redis_is_down_then_accepts_again(
    lab: dict[str, Any], fresh_fip: Any, tmp_path: Path
) -> None:
    demo = login(lab, "demo")
    with own_redis(tmp_path / "redis") as server:
        server.stop()
        refused = call(demo, "POST", f"/floating-ips/{fresh_fip.id}/disassociate/")
        assert refused.status_code == 503, (refused.status_code, refused.content[:300])
        body = refused.json()
        assert "the job queue (Redis) is unreachable" in body["detail"] and "nothing was done" in body["detail"]
        job = Job.objects.get(pk=body["job"])
        assert (job.state, job.lock, job.message) == (JobState.FAILED, None, body["detail"])
        assert not JobCredential.objects.filter(job=job).exists()
        assert list(AuditEntry.objects.filter(job=job).order_by("id").values_list("result", flat=True)) == [
            "accepted",
            "failed",
        ]
        # The demo's job list tells the same story.
        listed = call(demo, "GET", "/jobs/").json()["jobs"]
        assert [(j["state"], j["message"]) for j in listed if j["id"] == job.pk] == [("failed", body["detail"])]

        server.start()
        with worker_on(server, "queue-back-worker.log"):
            again = accepted(call(demo, "POST", f"/floating-ips/{fresh_fip.id}/disassociate/"))
            assert again != job.pk
            done = wait_job(again)
        assert done.state == JobState.SUCCEEDED, done.message
        assert "was not associated" in done.message


def test_a_queued_job_survives_a_redis_crash_and_runs_after(
    lab: dict[str, Any], fresh_fip: Any, tmp_path: Path, demo_cloud: openstack.connection.Connection
) -> None:
    demo = login(lab, "demo")
    port = lab["vms"]["ubuntu-01"]["port_id"]
    with own_redis(tmp_path / "redis") as server:
        try:
            # No worker yet: the job waits in the broker.
            job_id = accepted(call(demo, "POST", f"/floating-ips/{fresh_fip.id}/associate/", {"port_id": port}))
            assert server.client().llen("celery") == 1
            server.crash()  # SIGKILL: no chance to save anything more
            assert not server.up()
            busy = call(demo, "POST", f"/floating-ips/{fresh_fip.id}/disassociate/")
            assert busy.status_code == 409  # the queued job still holds its object: it was not lost
            server.start()  # bin/redis again: it replays its append-only file
            assert server.client().llen("celery") == 1
            assert Job.objects.get(pk=job_id).state == JobState.QUEUED
            with worker_on(server, "queue-crash-worker.log"):
                job = wait_job(job_id)
            assert job.state == JobState.SUCCEEDED, job.message
            assert demo_cloud.network.get_ip(fresh_fip.id).port_id == port  # it really acted
        finally:
            demo_cloud.network.update_ip(fresh_fip.id, port_id=None)
