"""The action tests' real parts: a Celery worker on a broker of its own, Keystone logins, API calls, FIPs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openstack.connection
import pytest
from django.conf import settings
from django.test import Client

from tasks.models import Job
from tests.conftest import ARTIFACTS, REPO, lab_password

JOBS_BROKER_URL = os.environ.get("JOBS_TEST_BROKER_URL", "redis://127.0.0.1:6379/11")
API = "/api/v1"


# --------------------------------------------------------------------------- a real worker


@pytest.fixture(autouse=True)
def shared_broker_restored() -> Iterator[None]:
    """Give the next test files back the broker they expect (use_own_broker switches it)."""
    from dashboard.celery import app

    saved = app.conf.broker_url
    yield
    if app.conf.broker_url != saved:
        app.conf.broker_url = saved
        forget_connections(app)


def forget_connections(app: Any) -> None:
    """Drop the connection pool and the producer pool built on it (control commands publish with it)."""
    app._pool = None
    app.amqp._producer_pool = None


def use_own_broker() -> None:
    """This process sends its jobs to the test broker too."""
    from dashboard.celery import app

    if app.conf.broker_url != JOBS_BROKER_URL:
        app.conf.broker_url = JOBS_BROKER_URL
        forget_connections(app)  # no producer connected to the shared broker yet, or forget it


def start_worker(log_name: str, **extra_env: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{settings.DATABASES['default']['NAME']}",
        "CELERY_BROKER_URL": JOBS_BROKER_URL,
        "CELERY_VISIBILITY_TIMEOUT": "3",
        **extra_env,
    }
    return spawn_celery_worker("jobs", ARTIFACTS / "jobs" / log_name, env)


def spawn_celery_worker(name: str, log: Path, env: dict[str, str], *options: str) -> subprocess.Popen[bytes]:
    """``celery -A dashboard worker --pool solo`` named ``<name>-...@localhost``, its output in ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(
            [
                str(Path(sys.executable).parent / "celery"),
                "-A",
                "dashboard",
                "worker",
                *options,
                "--pool",
                "solo",
                "-n",
                f"{name}-{os.getpid()}-{time.monotonic_ns()}@localhost",
                "--loglevel",
                "INFO",
            ],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop_worker(proc: subprocess.Popen[bytes], grace: float = 30) -> None:
    """Terminate ``proc`` (a worker, a server, an agent), killing it after ``grace`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@contextmanager
def celery_worker(log_name: str = "worker.log", **extra_env: str) -> Iterator[subprocess.Popen[bytes]]:
    use_own_broker()
    proc = start_worker(log_name, **extra_env)
    try:
        yield proc
    finally:
        stop_worker(proc)


def wait_job(job_id: int, timeout: float = 90, until: Any = None) -> Job:
    """Until the job finished (or ``until(job)`` holds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if until(job) if until else job.finished:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {Job.objects.get(pk=job_id).state} after {timeout}s")


# --------------------------------------------------------------------------- logging in for real


def login(lab: dict[str, Any], user: str) -> Client:
    """A browser-like client logged in through the real login page (Keystone), CSRF enforced."""
    client = Client(enforce_csrf_checks=True)
    client.get("/login/")
    response = client.post(
        "/login/",
        {
            "username": user,
            "password": lab_password(lab, user),
            "domain": "Default",
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
            "next": "/",
        },
    )
    assert response.status_code == 302, response.content[:500]
    return client


def call(client: Client, method: str, path: str, body: Any = None, csrf: bool = True) -> Any:
    headers = {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value} if csrf else {}
    data = json.dumps(body) if body is not None else None
    return getattr(client, method.lower())(API + path, data=data, content_type="application/json", **headers)


def accepted(response: Any) -> int:
    assert response.status_code == 202, (response.status_code, response.content[:500])
    return int(response.json()["job"])


@pytest.fixture
def worker(lab: dict[str, Any]) -> Iterator[subprocess.Popen[bytes]]:
    """One per test: the kill test needs to be sure that no other worker takes its job."""
    with celery_worker() as proc:
        yield proc


@pytest.fixture
def fresh_fip(lab: dict[str, Any], demo_cloud: openstack.connection.Connection) -> Iterator[Any]:
    """A floating IP of demo's, allocated for the test and released after it."""
    fip = demo_cloud.network.create_ip(floating_network_id=lab["networks"]["public"], description="jobs test")
    try:
        yield fip
    finally:
        demo_cloud.network.delete_ip(fip.id, ignore_missing=True)
