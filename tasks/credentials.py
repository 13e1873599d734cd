"""The actor's Keystone token for a job: sealed in the database, never in the broker.

A job needs to act as its user (so Neutron's policy decides) after the request
that queued it has ended, possibly in another process after a worker crash.
The Celery message carries only the job id; the token and its catalog are
sealed (Fernet: AES-CBC + HMAC) with a key derived from SECRET_KEY into a
``JobCredential`` row, which is deleted as soon as the job ends (succeeded or
failed). A leaked database dump without SECRET_KEY reveals no token, and the
token itself expires with the Keystone token (at most its own lifetime).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dashboard.auth import Caller
from dashboard.isotime import parse_time
from dashboard.sealing import SealBroken, open_json, seal_json
from tasks.models import Job, JobCredential


class CredentialMissing(Exception):
    """The job's credential is gone (job finished, or the key changed)."""


# The purpose names the key (dashboard.sealing): unchanged, so credentials sealed before stay readable.
PURPOSE = "tasks.JobCredential"


def seal(caller: Caller, body: dict[str, Any]) -> bytes:
    return seal_json(PURPOSE, {"caller": caller.to_dict(), "body": body}).encode()


def unseal(sealed: bytes | memoryview) -> tuple[Caller, dict[str, Any]]:
    try:
        data = open_json(PURPOSE, sealed)
    except SealBroken as exc:
        raise CredentialMissing("the job's credential cannot be read (SECRET_KEY changed?)") from exc
    return Caller.from_dict(data["caller"]), data["body"]


def store(job: Job, caller: Caller, body: dict[str, Any]) -> None:
    expires: datetime = parse_time(caller.expires_at)
    JobCredential.objects.create(job=job, sealed=seal(caller, body), expires_at=expires)


def load(job_id: int) -> tuple[Caller, dict[str, Any]]:
    row = JobCredential.objects.filter(job_id=job_id).first()
    if row is None:
        raise CredentialMissing("the job's credential is gone")
    return unseal(row.sealed)


def forget(job_id: int) -> None:
    JobCredential.objects.filter(job_id=job_id).delete()
