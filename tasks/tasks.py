"""Celery tasks (thin: arguments, retries, progress; logic lives elsewhere)."""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task

from tasks.actions import TransientCloudError
from tasks.jobs import REFRESH_CLOUD, RUN_JOB, finish, run
from tasks.models import JobState


@shared_task(name="tasks.ping")
def ping() -> str:
    """Liveness probe for the worker: returns "pong"."""
    return "pong"


@shared_task(name=REFRESH_CLOUD, ignore_result=True)
def refresh_cloud() -> int:
    """Collect the cloud once for every browser; returns the graph revision."""
    from topology.services import graph_state
    from topology.services import refresh_cloud as refresh

    refresh()
    return graph_state().revision


@shared_task(name="tasks.reap_jobs", ignore_result=True)
def reap_jobs() -> list[int]:
    """Fail the jobs that can no longer end by themselves (tasks.reaper); their ids."""
    from django.utils import timezone

    from tasks.reaper import reap_stuck_jobs

    return reap_stuck_jobs(timezone.now())


@shared_task(name="tasks.prune", ignore_result=True)
def prune() -> dict[str, int]:
    """Delete what is older than its retention (tasks.retention.PRUNERS); rows deleted by each."""
    from django.utils import timezone

    from tasks.retention import prune_all

    return prune_all(timezone.now())


class JobTask(Task):
    """Fails the Job row when the task gives up (retries exhausted, or an unexpected error)."""

    def on_failure(
        self, exc: BaseException, task_id: str, args: tuple[Any, ...], kwargs: dict[str, Any], einfo: Any
    ) -> None:
        job_id = args[0] if args else kwargs.get("job_id")
        if job_id is not None:
            finish(int(job_id), JobState.FAILED, f"gave up: {exc}")


@shared_task(
    bind=True,
    base=JobTask,
    name=RUN_JOB,
    ignore_result=True,
    # The job's own idempotence makes a second delivery harmless; these make sure there is one
    # after a worker dies mid-job (the message is acknowledged only when the task returns).
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(TransientCloudError,),
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=6,
)
def run_job(self: Task, job_id: int) -> None:
    """Run the action of Job ``job_id`` (the message carries the id only, never a token)."""
    run(job_id)
