"""The job runner without a cloud: queueing, exactly-once finishing, retries, the credential, /ws/jobs/.

The actions are replaced by small fakes here; the real actions against the real
lab are in test_actions_lab.py. The one Neutron fault made up here is a 500,
which the real Neutron cannot be made to answer on demand.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from openstack import exceptions as sdk_exceptions

from dashboard.asgi import application
from dashboard.auth import Caller
from tasks import actions, jobs
from tasks.actions import ActionRefused, neutron_call
from tasks.confirm import Confirmation
from tasks.credentials import seal, unseal
from tasks.models import AuditEntry, Job, JobCredential, JobKind, JobState
from tests.browser import caller, session_for

pytestmark = [pytest.mark.django_db(transaction=True)]

DEMO = caller("demo", "p-demo")
ALT = caller("alt", "p-alt")
BODY: dict[str, Any] = {"token": {"catalog": []}}


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Jobs are not sent to the shared broker here: the test runs them itself."""
    sent: list[int] = []
    monkeypatch.setattr("tasks.tasks.run_job.delay", lambda job_id: sent.append(job_id))
    monkeypatch.setattr("tasks.jobs.refresh_map", lambda: None)
    monkeypatch.setattr("tasks.jobs.connection_for", lambda job: object())
    yield sent


def fake_action(monkeypatch: pytest.MonkeyPatch, fn: Any, kind: str = JobKind.FIP_DISASSOCIATE) -> None:
    monkeypatch.setitem(actions.ACTIONS, kind, fn)
    monkeypatch.setattr("tasks.jobs.ACTIONS", actions.ACTIONS)
    # No cloud to re-read here: the fake's answer stands for the observed effect. The confirmation
    # itself is tested against the real lab (test_actions_confirm_lab.py) and on reports (test_confirm.py).
    monkeypatch.setattr(
        "tasks.jobs.confirm",
        lambda conn, job, result, progress: Confirmation(
            JobState.SUCCEEDED, str(result.get("message", "done")), result
        ),
    )


def neutron_error(status: int, message: str) -> sdk_exceptions.HttpException:
    return sdk_exceptions.HttpException(message=f"Client Error: {message}", details=message, http_status=status)


def test_it_seals_the_credential_and_never_stores_the_token_in_clear() -> None:
    who = Caller(**{**DEMO.to_dict(), "roles": DEMO.roles, "token": "gAAAA-secret-token"})
    sealed = seal(who, BODY)
    assert b"secret-token" not in sealed
    assert unseal(sealed) == (who, BODY)


def test_identical_requests_at_once_make_one_job(queued: list[int]) -> None:
    first, created = jobs.submit(DEMO, BODY, JobKind.FIP_ASSOCIATE, "fip-1", {"port_id": "p1", "fixed_ip": "10.0.0.5"})
    again, created_again = jobs.submit(
        DEMO, BODY, JobKind.FIP_ASSOCIATE, "fip-1", {"port_id": "p1", "fixed_ip": "10.0.0.5"}
    )
    assert created and not created_again and again.pk == first.pk
    with pytest.raises(jobs.JobBusy):
        jobs.submit(DEMO, BODY, JobKind.FIP_ASSOCIATE, "fip-1", {"port_id": "p2", "fixed_ip": "10.0.0.6"})
    assert queued == [first.pk] and Job.objects.count() == 1


def test_a_job_succeeds_once_and_its_credential_is_gone(queued: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def action(conn: Any, job: Job, progress: actions.Progress) -> actions.Result:
        progress(50, "halfway")
        calls.append(job.pk)
        return {"message": "done it"}

    fake_action(monkeypatch, action)
    job, _ = jobs.submit(DEMO, BODY, JobKind.FIP_DISASSOCIATE, "fip-1", {})
    assert JobCredential.objects.filter(job=job).exists()
    jobs.run(job.pk)
    jobs.run(job.pk)  # a redelivered message after the job finished: nothing happens
    job.refresh_from_db()
    assert (job.state, job.progress, job.message, job.lock) == (JobState.SUCCEEDED, 100, "done it", None)
    assert job.attempts == 1
    assert calls == [job.pk]
    assert not JobCredential.objects.filter(job=job).exists()
    assert list(AuditEntry.objects.filter(job=job).order_by("id").values_list("result", flat=True)) == [
        "accepted",
        "succeeded",
    ]
    assert not jobs.finish(job.pk, JobState.FAILED, "late duplicate")  # the first finisher won
    # The object is free again: a new request makes a new job.
    assert jobs.submit(DEMO, BODY, JobKind.FIP_DISASSOCIATE, "fip-1", {})[1]


def test_a_4xx_fails_at_once_with_neutrons_message(queued: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    def action(conn: Any, job: Job, progress: actions.Progress) -> actions.Result:
        with neutron_call():
            raise neutron_error(409, "Cannot associate floating IP 192.168.1.60 with port p1: already has one")

    fake_action(monkeypatch, action)
    job, _ = jobs.submit(DEMO, BODY, JobKind.FIP_DISASSOCIATE, "fip-1", {})
    jobs.run(job.pk)
    job.refresh_from_db()
    assert job.state == JobState.FAILED and job.attempts == 1
    assert job.message == "Cannot associate floating IP 192.168.1.60 with port p1: already has one"
    assert job.result == {"status": 409}
    assert not JobCredential.objects.filter(job=job).exists()


def test_a_neutron_500_is_retried_then_succeeds(queued: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    # Made up: the real Neutron cannot be made to answer 500 on demand.
    from tasks.tasks import run_job

    answers = [neutron_error(500, "Request Failed: internal server error"), neutron_error(503, "busy"), None]

    def action(conn: Any, job: Job, progress: actions.Progress) -> actions.Result:
        with neutron_call():
            answer = answers.pop(0)
            if answer is not None:
                raise answer
        return {"message": "third time lucky"}

    fake_action(monkeypatch, action)
    monkeypatch.setattr(run_job, "retry_backoff", False)  # no waiting in the test (countdown 0)
    job, _ = jobs.submit(DEMO, BODY, JobKind.FIP_DISASSOCIATE, "fip-1", {})
    run_job.apply(args=[job.pk])
    job.refresh_from_db()
    assert (job.state, job.attempts, job.message) == (JobState.SUCCEEDED, 3, "third time lucky")


def test_retries_exhausted_fail_the_job(queued: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    from tasks.tasks import run_job

    def action(conn: Any, job: Job, progress: actions.Progress) -> actions.Result:
        with neutron_call():
            raise neutron_error(500, "Request Failed: internal server error")

    fake_action(monkeypatch, action)
    monkeypatch.setattr(run_job, "retry_backoff", False)
    monkeypatch.setattr(run_job, "max_retries", 1)
    job, _ = jobs.submit(DEMO, BODY, JobKind.FIP_DISASSOCIATE, "fip-1", {})
    run_job.apply(args=[job.pk])
    job.refresh_from_db()
    assert job.state == JobState.FAILED and "500" in job.message and job.lock is None


def test_an_expired_token_fails_the_job_with_a_reason(queued: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()
    monkeypatch.setattr("tasks.tasks.run_job.delay", lambda job_id: None)
    job, _ = jobs.submit(caller("demo", "p-demo", minutes=-1), BODY, JobKind.FIP_DISASSOCIATE, "fip-1", {})
    jobs.run(job.pk)
    job.refresh_from_db()
    assert job.state == JobState.FAILED and "expired" in job.message


def test_refused_before_neutron_is_refused(queued: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    def action(conn: Any, job: Job, progress: actions.Progress) -> actions.Result:
        raise ActionRefused("nope", 403)

    fake_action(monkeypatch, action)
    job, _ = jobs.submit(DEMO, BODY, JobKind.FIP_DISASSOCIATE, "fip-1", {})
    jobs.run(job.pk)
    assert Job.objects.get(pk=job.pk).state == JobState.FAILED


# --------------------------------------------------------------------------- /ws/jobs/

ORIGIN = (b"origin", b"http://127.0.0.1")


async def connect(session_key: str | None) -> WebsocketCommunicator:
    headers = [ORIGIN, (b"host", b"127.0.0.1")]
    if session_key:
        headers.append((b"cookie", f"sessionid={session_key}".encode()))
    communicator = WebsocketCommunicator(application, "/ws/jobs/", headers=headers)
    connected, code = await communicator.connect()
    assert connected, code
    return communicator


def test_the_socket_closes_without_a_login() -> None:
    async def run() -> None:
        communicator = WebsocketCommunicator(application, "/ws/jobs/", headers=[ORIGIN, (b"host", b"127.0.0.1")])
        connected, _code = await communicator.connect()
        assert not connected or (await communicator.receive_output(2))["type"] == "websocket.close"
        # Ended here, not left to asyncio.run's cancelling of every task at its close: the consumer's channel
        # layer receive cancelled beside its own tasks once hung a CI run (the loop waiting forever).
        await communicator.disconnect()

    async_to_sync(run)()


def test_the_actor_sees_progress_and_others_see_nothing(queued: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    def action(conn: Any, job: Job, progress: actions.Progress) -> actions.Result:
        progress(40, "working")
        return {"message": "done"}

    fake_action(monkeypatch, action)
    demo_key, alt_key = session_for(DEMO), session_for(ALT)
    job, _ = jobs.submit(DEMO, BODY, JobKind.FIP_DISASSOCIATE, "fip-1", {})

    async def run() -> None:
        demo_ws, alt_ws = await connect(demo_key), await connect(alt_key)
        await database_sync_to_async(jobs.run)(job.pk)
        states: list[str] = []
        while not states or states[-1] != "succeeded":
            message = await demo_ws.receive_json_from(5)
            assert message["type"] == "job.update" and message["job"]["id"] == job.pk
            states.append(message["job"]["state"])
        assert "running" in states and states[-1] == "succeeded"
        assert await alt_ws.receive_nothing(0.5)
        # alt asks for demo's job: not found, as Neutron answers for what one may not see.
        await alt_ws.send_json_to({"type": "job.watch", "job": job.pk})
        refused = await alt_ws.receive_json_from(5)
        assert refused["type"] == "job.error" and refused["status"] == 404
        await alt_ws.send_json_to({"type": "floatingip.associate", "floating_ip": "x", "port_id": "y"})
        assert (await alt_ws.receive_json_from(5))["status"] == 400
        await demo_ws.send_json_to({"type": "job.watch", "job": job.pk})
        assert (await demo_ws.receive_json_from(5))["job"]["state"] == "succeeded"
        await asyncio.gather(demo_ws.disconnect(), alt_ws.disconnect())

    async_to_sync(run)()
