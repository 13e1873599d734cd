"""Jobs: queue one (with its sealed credential), run it, finish it exactly once, tell the actor.

Progress and state changes go to the actor's Channels group through
:func:`publish` (one helper, ``async_to_sync(group_send)``); the
``/ws/jobs/`` consumer forwards them after re-checking the session.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from typing import Any, Literal, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from dashboard.auth import Caller
from dashboard.celery import app as celery_app
from dashboard.keystone import user_connection
from tasks import credentials
from tasks.actions import ACTIONS, ActionRefused, Connection, Result
from tasks.confirm import confirm
from tasks.models import AuditEntry, AuditResult, Job, JobState

log = logging.getLogger(__name__)

AUDIT_RESULT = {JobState.SUCCEEDED: AuditResult.SUCCEEDED, JobState.UNCONFIRMED: AuditResult.UNCONFIRMED}

# The Celery tasks this module sends, by their registered names: tasks/tasks.py defines them and
# imports this module, never the other way round (TasksConfig.ready registers them in every process).
RUN_JOB = "tasks.run_job"
REFRESH_CLOUD = "tasks.refresh_cloud"


def task(name: str) -> Any:
    """The registered Celery task ``name`` (celery is untyped here)."""
    return celery_app.tasks[name]


class JobDict(TypedDict):
    id: int
    kind: str
    target: str
    state: str
    progress: int
    message: str
    result: dict[str, Any] | None
    created_at: str
    finished_at: str | None


class JobUpdate(TypedDict):
    type: Literal["job.update"]
    user_id: str
    job: JobDict


class JobBusy(Exception):
    """Another job works on the same object right now."""

    def __init__(self, job: Job) -> None:
        super().__init__(f"{job.target} is busy with job {job.pk} ({job.kind}, {job.state})")
        self.job = job


class QueueUnavailable(Exception):
    """The broker did not take the job: it failed at once (nothing was done) and freed its object."""

    def __init__(self, job_id: int) -> None:
        super().__init__(QUEUE_DOWN)
        self.job_id = job_id


QUEUE_DOWN = "the job queue (Redis) is unreachable: nothing was done; retry in a moment"


def job_dict(job: Job) -> JobDict:
    return {
        "id": job.pk,
        "kind": job.kind,
        "target": job.target,
        "state": job.state,
        "progress": job.progress,
        "message": job.message,
        "result": job.result,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def group_for(user_id: str) -> str:
    """The Channels group of one Keystone user (group names allow few characters: hash the id)."""
    return "jobs." + hashlib.sha256(user_id.encode()).hexdigest()[:40]


def publish(job: Job) -> None:
    update: JobUpdate = {"type": "job.update", "user_id": job.user_id, "job": job_dict(job)}
    try:
        async_to_sync(get_channel_layer().group_send)(group_for(job.user_id), dict(update))
    except Exception as exc:  # a missed live update must never fail the job: the page re-reads on reconnect
        log.warning("job %s: publishing failed: %s", job.pk, exc)


def audit(caller: Caller, action: str, target: str, result: str, message: str = "", job: Job | None = None) -> None:
    AuditEntry.objects.create(
        user_id=caller.user_id,
        user_name=caller.user_name,
        project_id=caller.project_id or "",
        action=action,
        target=target,
        result=result,
        message=message[:2000],
        job=job,
    )


# --------------------------------------------------------------------------- queueing


def lock_key(kind: str, target: str, params: dict[str, Any]) -> str:
    """One job at a time per Neutron object; identical requests share the key and so the job."""
    del kind, params  # any two actions on one object at once conflict, not only identical ones
    return f"object:{target}"


def same_request(job: Job, caller: Caller, kind: str, params: dict[str, Any]) -> bool:
    return job.user_id == caller.user_id and job.kind == kind and job.params == params


def submit(
    caller: Caller, body: dict[str, Any], kind: str, target: str, params: dict[str, Any], exclusive: bool = True
) -> tuple[Job, bool]:
    """Queue a job (after commit, so the worker finds the row); returns (job, created).

    An identical request while the first is queued or running gets the first job
    back (created False): two clicks or two tabs never act twice. A different
    action on the same object meanwhile raises JobBusy; a broker that does not take the
    job raises QueueUnavailable (the job failed at once, its object is free again).
    """
    lock = lock_key(kind, target, params) if exclusive else None
    for _ in range(3):
        try:
            with transaction.atomic():
                job = Job.objects.create(
                    kind=kind,
                    user_id=caller.user_id,
                    user_name=caller.user_name,
                    project_id=caller.project_id or "",
                    target=target,
                    params=params,
                    lock=lock,
                )
                credentials.store(job, caller, body)
                audit(caller, kind, target, AuditResult.ACCEPTED, json.dumps(params, sort_keys=True), job)
                transaction.on_commit(functools.partial(enqueue, job.pk))
            publish(job)
            return job, True
        except IntegrityError:
            running = Job.objects.filter(lock=lock).first()
            if running is None:
                continue  # it finished between our insert and this read: try again
            if same_request(running, caller, kind, params):
                return running, False
            raise JobBusy(running) from None
    raise JobBusy(Job.objects.get(lock=lock))


def enqueue(job_id: int) -> None:
    """Send the job to the broker, or fail it at once: a job the broker never got must not hold its lock."""
    try:
        task(RUN_JOB).delay(job_id)
    except Exception as exc:  # kombu/redis connection errors, whatever the transport raises
        log.warning("job %s: could not be queued: %s", job_id, exc)
        finish(job_id, JobState.FAILED, QUEUE_DOWN)
        raise QueueUnavailable(job_id) from exc


# --------------------------------------------------------------------------- running


def connection_for(job: Job) -> Connection:
    caller, body = credentials.load(job.pk)
    if caller.expired():
        raise ActionRefused("the Keystone token of this job expired: log in again and retry", 401)
    return user_connection(caller, body)


def set_progress(job: Job, progress: int, message: str) -> None:
    job.progress, job.message = progress, message
    Job.objects.filter(pk=job.pk, state=JobState.RUNNING).update(progress=progress, message=message)
    publish(job)


def start(job_id: int) -> Job | None:
    """Mark the job running; None if it already finished (a redelivered message: nothing to do).

    Retries and redeliveries (a worker lost mid-job) together get JOB_MAX_ATTEMPTS runs: a
    message that kills every worker taking it must end, not loop.
    """
    cap = settings.JOB_MAX_ATTEMPTS
    claimed = Job.objects.filter(
        pk=job_id,
        state__in=[JobState.QUEUED, JobState.RUNNING],
        attempts__lt=cap,
    ).update(state=JobState.RUNNING, attempts=F("attempts") + 1, started_at=timezone.now())
    if not claimed:
        finish(job_id, JobState.FAILED, f"gave up after {cap} attempts (the job never ended by itself)")
        return None
    job = Job.objects.get(pk=job_id)
    publish(job)
    return job


def finish(job_id: int, state: str, message: str, result: Result | None = None) -> bool:
    """Finish the job once: the first finisher wins, later ones (a duplicate run) change nothing."""
    done = Job.objects.filter(pk=job_id, state__in=[JobState.QUEUED, JobState.RUNNING]).update(
        state=state,
        message=message[:2000],
        result=result,
        lock=None,
        finished_at=timezone.now(),
        **({"progress": 100} if state != JobState.FAILED else {}),
    )
    credentials.forget(job_id)
    if not done:
        return False
    job = Job.objects.get(pk=job_id)
    AuditEntry.objects.create(
        user_id=job.user_id,
        user_name=job.user_name,
        project_id=job.project_id,
        action=job.kind,
        target=job.target,
        result=AUDIT_RESULT.get(state, AuditResult.FAILED),
        message=message[:2000],
        job=job,
    )
    publish(job)
    return True


def run(job_id: int) -> None:
    """Run one job. Raises TransientCloudError (the task retries it); anything else finishes the job."""
    job = start(job_id)
    if job is None:
        log.info("job %s already finished: redelivered message ignored", job_id)
        return
    try:
        conn = connection_for(job)
        progress = functools.partial(set_progress, job)
        # "succeeded" means the effect was observed (tasks/confirm.py), not that Neutron answered 2xx
        confirmed = confirm(conn, job, ACTIONS[job.kind](conn, job, progress), progress)
    except ActionRefused as exc:
        finish(job_id, JobState.FAILED, str(exc), {"status": exc.status})
        return
    except credentials.CredentialMissing as exc:
        finish(job_id, JobState.FAILED, str(exc))
        return
    if finish(job_id, confirmed.state, confirmed.message, confirmed.result):
        refresh_map()  # failed too: a half-done change is worth showing


def refresh_map() -> None:
    """After a change, refresh the cloud snapshot so the map shows it (queued: never blocks the job)."""
    try:
        task(REFRESH_CLOUD).delay()
    except Exception as exc:
        log.warning("could not queue a cloud refresh: %s", exc)
