"""An action exactly once, against the real lab: two identical requests at once, a worker killed mid-job."""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

import openstack.connection
import pytest
from django.test import Client

from tasks.models import AuditEntry, Job, JobState
from tests.lab_jobs import (
    accepted,
    call,
    celery_worker,
    login,
    start_worker,
    stop_worker,
    use_own_broker,
    wait_job,
)
from tests.lab_jobs import fresh_fip as fresh_fip  # a fixture, used by name
from tests.lab_jobs import shared_broker_restored as shared_broker_restored  # autouse here too
from tests.lab_jobs import worker as worker  # a fixture, used by name

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]


def test_two_identical_requests_at_once_associate_once(
    lab: dict[str, Any], worker: Any, fresh_fip: Any, demo_cloud: openstack.connection.Connection
) -> None:
    demo = login(lab, "demo")
    port = lab["vms"]["ubuntu-01"]["port_id"]
    answers: list[Any] = []
    barrier = threading.Barrier(2)

    def request(client: Client) -> None:
        barrier.wait()
        answers.append(call(client, "POST", f"/floating-ips/{fresh_fip.id}/associate/", {"port_id": port}))

    tab = Client(enforce_csrf_checks=True)  # a second tab of the same session
    tab.cookies = demo.cookies
    threads = [threading.Thread(target=request, args=(c,)) for c in (demo, tab)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    job_ids = {accepted(a) for a in answers}
    assert len(job_ids) == 1, job_ids
    job = wait_job(job_ids.pop())
    assert job.state == JobState.SUCCEEDED, job.message
    assert Job.objects.filter(kind="floatingip.associate").count() == 1
    assert [f.id for f in demo_cloud.network.ips(port_id=port)] == [fresh_fip.id]
    demo_cloud.network.update_ip(fresh_fip.id, port_id=None)


def test_a_killed_worker_finishes_the_association_exactly_once_when_it_returns(
    lab: dict[str, Any], fresh_fip: Any, demo_cloud: openstack.connection.Connection
) -> None:
    demo = login(lab, "demo")
    port = lab["vms"]["ubuntu-01"]["port_id"]
    use_own_broker()
    # Wide steps (3 s) so the test can kill the worker after Neutron's write and before the job ends.
    first = start_worker("killed-worker.log", DASHBOARD_JOB_STEP_DELAY="3")
    try:
        job_id = accepted(call(demo, "POST", f"/floating-ips/{fresh_fip.id}/associate/", {"port_id": port}))
        wait_job(job_id, timeout=60, until=lambda j: j.progress >= 80)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        stop_worker(first)
    job = Job.objects.get(pk=job_id)
    assert job.state == JobState.RUNNING and job.attempts == 1
    assert demo_cloud.network.get_ip(fresh_fip.id).port_id == port  # written, but the job did not end
    time.sleep(4)  # past the visibility timeout: the unacknowledged message comes back to the next worker
    try:
        with celery_worker("returned-worker.log"):
            job = wait_job(job_id, timeout=60)
        assert job.state == JobState.SUCCEEDED, job.message
        assert job.attempts == 2 and "already points at" in job.message
        assert AuditEntry.objects.filter(job_id=job_id, result="succeeded").count() == 1
        assert [f.id for f in demo_cloud.network.ips(port_id=port)] == [fresh_fip.id]
    finally:
        demo_cloud.network.update_ip(fresh_fip.id, port_id=None)
