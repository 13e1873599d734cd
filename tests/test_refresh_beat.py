"""Celery beat refreshes the cloud snapshot on its own, in a real worker over real Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from tests.conftest import REPO
from topology.models import CloudSnapshot, GraphState

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]


def test_beat_refreshes_the_cloud_and_bumps_the_revision(lab: dict[str, Any], tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{settings.DATABASES['default']['NAME']}",  # the test database
        "DASHBOARD_CLOUD_REFRESH_SECONDS": "2",
    }
    log = (tmp_path / "celery.log").open("w")
    worker = subprocess.Popen(
        [
            Path(sys.executable).parent / "celery",
            "-A",
            "dashboard",
            "worker",
            "--beat",
            "--pool",
            "solo",
            "--schedule",
            str(tmp_path / "beat-schedule"),
            "-n",
            f"beat-{os.getpid()}@localhost",
            "--loglevel",
            "INFO",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        seen: list[Any] = []
        while time.monotonic() < deadline and len(seen) < 2:
            snapshot = CloudSnapshot.objects.first()
            if snapshot is not None and snapshot.collected_at not in seen:
                seen.append(snapshot.collected_at)
            time.sleep(0.5)
        assert len(seen) >= 2, (tmp_path / "celery.log").read_text()[-3000:]
        snapshot = CloudSnapshot.objects.get()
        assert {n["name"] for n in snapshot.data["networks"]} >= {"public", "private"}
        assert snapshot.api_calls >= 8
        assert GraphState.objects.get(id=1).revision >= 1
    finally:
        worker.terminate()
        worker.wait(timeout=30)
