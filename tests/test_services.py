"""The run command's processes really serve: daphne (ASGI) and a Celery worker on real Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, free_port

BIN = Path(sys.executable).parent


def wait_for_http(url: str, timeout: float) -> Any:
    """The response (or the HTTPError, which reads like one) once the server answers."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return urllib.request.urlopen(url, timeout=5)
        except urllib.error.HTTPError as exc:
            return exc
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def daphne(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "daphne.log").open("w")
    proc = subprocess.Popen(
        [BIN / "daphne", "-b", "127.0.0.1", "-p", str(port), "dashboard.asgi:application"],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_daphne_serves_the_dashboard_and_its_static_files(daphne: str) -> None:
    response = wait_for_http(daphne + "/static/css/dashboard.css", timeout=30)
    assert response.status == 200
    assert b".topbar" in response.read()


def test_daphne_serves_the_login_page(daphne: str) -> None:
    response = wait_for_http(daphne + "/login/", timeout=30)
    assert response.status == 200
    assert b'name="password"' in response.read()


def test_a_celery_worker_answers_over_real_redis(tmp_path: Path) -> None:
    from dashboard.celery import app

    name = f"test-{os.getpid()}@localhost"
    log = (tmp_path / "celery.log").open("w")
    proc = subprocess.Popen(
        [BIN / "celery", "-A", "dashboard", "worker", "--pool", "solo", "-n", name, "--loglevel", "INFO"],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        replies: list[dict[str, dict[str, str]]] = []
        while time.monotonic() < deadline and not replies:
            replies = app.control.ping(destination=[name], timeout=1.0)
        assert replies == [{name: {"ok": "pong"}}], (tmp_path / "celery.log").read_text()
        registered = app.control.inspect(destination=[name], timeout=5).registered() or {}
        assert "tasks.ping" in registered.get(name, [])
    finally:
        proc.terminate()
        proc.wait(timeout=30)
