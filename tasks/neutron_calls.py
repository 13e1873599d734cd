"""How an action calls Neutron: its types, and Neutron's errors sorted once into refusals and retries.

4xx is a refusal with Neutron's own message (the job fails at once); 5xx, 412 and connection errors
are transient (the job retries with backoff).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import openstack.connection
from keystoneauth1 import exceptions as ksa_exceptions
from openstack import exceptions as sdk_exceptions

from tasks.models import Job

Progress = Callable[[int, str], None]
Result = dict[str, Any]
Connection = openstack.connection.Connection
Action = Callable[[Connection, Job, Progress], Result]


class ActionRefused(Exception):
    """Neutron (or a pre-check) said no: a 4xx. The job fails at once with this message."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class TransientCloudError(Exception):
    """Worth retrying: Neutron 5xx, 412 (changed under us: re-read), connection trouble."""


def neutron_message(exc: sdk_exceptions.HttpException) -> str:
    """Neutron's own sentence (its NeutronError message), not openstacksdk's wrapping of it."""
    details = getattr(exc, "details", None)
    return str(details or exc.message or exc)


@contextmanager
def neutron_call() -> Iterator[None]:
    try:
        yield
    except sdk_exceptions.HttpException as exc:
        status = exc.status_code
        if status is None or status >= 500 or status == 412:
            raise TransientCloudError(f"Neutron answered {status}: {neutron_message(exc)}") from exc
        raise ActionRefused(neutron_message(exc), status) from exc
    except (ksa_exceptions.ConnectionError, ksa_exceptions.RetriableConnectionFailure) as exc:
        raise TransientCloudError(f"cannot reach the cloud: {exc}") from exc


def pause() -> None:
    """Between a job's steps: ``DASHBOARD_JOB_STEP_DELAY`` seconds (0 unless a test or demo widens the window)."""
    delay = float(os.environ.get("DASHBOARD_JOB_STEP_DELAY", "0") or 0)
    if delay > 0:
        time.sleep(delay)
