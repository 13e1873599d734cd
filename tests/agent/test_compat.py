"""Compatibility across releases (docs/design.md "Agent report", Compatibility), against a live dashboard.

* the previous release's agent (its sources from git, PREVIOUS_RELEASE) still reports to this dashboard;
* a newer agent (this agent with its report version one higher: the only thing a newer release changes
  that this dashboard can notice) gets a 400 that says to upgrade the dashboard, logs it, and keeps
  running, holding each next report longer (1, 2, 4 s here), instead of exiting into a restart loop.
"""

from __future__ import annotations

import datetime
import io
import itertools
import os
import re
import shutil
import subprocess
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

from tests.agent.conftest import needs_root
from tests.agent.test_cli_and_send import PYTHON, REPO
from topology.models import HostReport
from topology.services import issue_agent_token

pytestmark = pytest.mark.django_db(transaction=True)

# main before the agent had its own wheel (the last state deployed with a checkout): release 0.1.0's agent.
PREVIOUS_RELEASE = "b06e3436df62eeec47ed12c6fc96459efc33e2dd"

NEWER_AGENT = (
    "import runpy, sys\n"
    "import topology.report, topology.report.contract as contract\n"
    "topology.report.REPORT_VERSION = contract.REPORT_VERSION = contract.REPORT_VERSION + 1\n"
    "sys.argv[0] = 'neutron-map-agent'\n"
    "runpy.run_module('topology.agent', run_name='__main__', alter_sys=True)\n"
)


def previous_release_tree(where: Path) -> Path:
    """topology/ of PREVIOUS_RELEASE, unpacked from `git archive` (skip when the clone lacks that commit)."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    done = subprocess.run(["git", "-C", str(REPO), "archive", PREVIOUS_RELEASE, "topology"], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"this clone has no commit {PREVIOUS_RELEASE[:12]} (shallow?): {done.stderr.decode().strip()}")
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
        archive.extractall(where, filter="data")
    return where


def test_the_previous_releases_agent_still_reports(live_server: Any, tmp_path: Path) -> None:
    needs_root()
    old = previous_release_tree(tmp_path / "old")
    assert not (old / "topology" / "agent" / "config.py").exists(), "that tree is the release before this one"
    (tmp_path / "netns").mkdir()
    token = issue_agent_token("old-agent")
    argv = ["--once", "--host", "old-agent", "--ovsdb", "none", "--netns-dir", str(tmp_path / "netns")]
    done = subprocess.run(
        [PYTHON, "-m", "topology.agent", *argv, "--url", f"{live_server.url}/api/v1/agents/report/"],
        cwd=old,
        env={**os.environ, "PYTHONPATH": str(old), "TOPOLOGY_AGENT_TOKEN": token},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (
        str(old)
        in subprocess.run(
            [PYTHON, "-c", "import topology.agent; print(topology.agent.__file__)"],
            cwd=old,
            env={**os.environ, "PYTHONPATH": str(old)},
            capture_output=True,
            text=True,
        ).stdout
    ), "the old tree's agent ran, not this checkout's"
    assert HostReport.objects.get(host="old-agent").report["version"] == 1


def test_a_newer_agent_logs_the_400_and_keeps_running_with_backoff(live_server: Any, tmp_path: Path) -> None:
    needs_root()
    (tmp_path / "netns").mkdir()
    token = issue_agent_token("newer-agent")
    log = tmp_path / "agent.log"
    argv = ["--host", "newer-agent", "--ovsdb", "none", "--netns-dir", str(tmp_path / "netns"), "--no-channel"]
    argv += ["--interval", "0.5", "--rejected-hold", "1", "--url", f"{live_server.url}/api/v1/agents/report/"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [PYTHON, "-c", NEWER_AGENT, *argv],
            cwd=REPO,
            env={**os.environ, "NEUTRON_MAP_AGENT_TOKEN": token, "PYTHONUNBUFFERED": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and log.read_text().count("the dashboard rejected the report") < 3:
            assert proc.poll() is None, f"the agent exited ({proc.returncode}): {log.read_text()}"
            time.sleep(0.2)
        text = log.read_text()
        assert text.count("the dashboard rejected the report") >= 3, text
        assert proc.poll() is None, "still running after three refusals"
        assert "HTTP 400: version: must be 1: 2 is newer than this dashboard, upgrade the dashboard" in text
        assert "this agent sends report version 2, which this dashboard does not accept" in text
        holds = [int(h) for h in re.findall(r"not within (\d+) s", text)]
        assert holds[:3] == [1, 2, 4], text
        # Each refusal's successor waited at least its hold, resyncs (every 0.5 s) included: a slow
        # machine only makes the gaps longer (lower bounds only).
        times = [
            datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f")
            for stamp in re.findall(r"^(\S+ \S+) ERROR .*the dashboard rejected the report", text, re.M)
        ]
        gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(times)]
        assert len(gaps) >= 2
        assert all(gap >= hold - 0.01 for gap, hold in zip(gaps, holds[: len(gaps)], strict=True)), (gaps, holds)
        assert not HostReport.objects.filter(host="newer-agent").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert proc.returncode == 0, log.read_text()
