"""Jobs that never end by themselves are ended here, truthfully (a Celery beat task runs it).

A job can be left unfinished when its message is lost (a broker restarted
without it, a queue purged), when its worker is lost for good, or when the
Keystone token it acts with expires before it runs. Each would hold its
object's lock (every later action on the object answering 409) and its
sealed credential forever. The reaper fails them with a message saying why;
:func:`tasks.jobs.finish` frees the lock and deletes the credential, and a
worker that still finishes such a job later changes nothing (first finisher wins).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q

from tasks.jobs import finish
from tasks.models import Job, JobState


def reason_to_reap(job: Job, now: datetime, max_age: timedelta) -> str | None:
    """Why ``job`` (queued or running) can no longer end by itself, or None while it still can."""
    credential = getattr(job, "credential", None)
    if credential is None:
        return "its credential is gone, so it can no longer act: reaped"
    if credential.expires_at <= now:
        return (
            f"the Keystone token it acts with expired at {credential.expires_at.isoformat()} "
            f"before it ended: reaped, log in again and retry"
        )
    if job.created_at <= now - max_age:
        where = "queued" if job.state == JobState.QUEUED else "running"
        return (
            f"still {where} {int(max_age.total_seconds()) // 60} min after it was accepted "
            f"(its message or its worker was lost): reaped, retry it"
        )
    return None


def reap_stuck_jobs(now: datetime) -> list[int]:
    """Fail every unfinished job past JOB_MAX_AGE_SECONDS or past its token's expiry; their ids."""
    max_age = timedelta(seconds=settings.JOB_MAX_AGE_SECONDS)
    candidates = (
        Job.objects.filter(state__in=[JobState.QUEUED, JobState.RUNNING])
        .filter(Q(created_at__lte=now - max_age) | Q(credential__isnull=True) | Q(credential__expires_at__lte=now))
        .select_related("credential")
    )
    reaped = []
    for job in candidates:
        reason = reason_to_reap(job, now, max_age)
        if reason is not None and finish(job.pk, JobState.FAILED, reason):
            reaped.append(job.pk)
    return reaped
