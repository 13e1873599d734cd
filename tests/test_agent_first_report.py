"""The node agent runs before the dashboard listens (bin/run starts the lab, and its agents,
first): its first report must reach the physical view within seconds of the server
listening, not at the next resync.

A real agent process (`python -m topology.agent`, root namespace, no OVS, resync in
300 s) posts with a token of the test database to a port where nothing listens yet;
then a real daphne starts there on the test database. The delay from daphne's first
answer to the host's node in the stored graph is printed (a figure, not an assertion;
the bound is a generous wait).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from tests.browser import wait_http
from tests.conftest import REPO, free_port
from topology.models import GraphState, HostReport
from topology.services import issue_agent_token

pytestmark = pytest.mark.django_db(transaction=True)
HOST = "agt-first-report"


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in reversed(started):
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def host_in_graph() -> bool:
    state = GraphState.objects.filter(id=1).first()
    return state is not None and any(n["id"] == f"host:{HOST}" for n in state.graph["nodes"])


def test_the_physical_view_has_the_host_within_seconds_of_the_server_listening(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    if os.geteuid() != 0:
        pytest.skip("the agent reads iptables as root")
    port = free_port()
    token = tmp_path / "token"
    token.write_text(issue_agent_token(HOST) + "\n")
    (tmp_path / "netns").mkdir()
    agent_log = tmp_path / "agent.log"
    with agent_log.open("wb") as out:
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "topology.agent",
                    "--host",
                    HOST,
                    "--token-file",
                    str(token),
                    "--url",
                    f"http://127.0.0.1:{port}/api/v1/agents/report/",
                    "--ovsdb",
                    "none",
                    "--netns-dir",
                    str(tmp_path / "netns"),
                    "--interval",
                    "300",
                ],
                cwd=REPO,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        )
    deadline = time.monotonic() + 60
    while agent_log.read_text().count("not delivered") < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert agent_log.read_text().count("not delivered") >= 3, agent_log.read_text()
    assert not HostReport.objects.filter(host=HOST).exists()

    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{connection.settings_dict['NAME']}",
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "PYTHONUNBUFFERED": "1",
    }
    with (tmp_path / "daphne.log").open("wb") as out:
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "dashboard.asgi:application"],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        )
    wait_http(f"http://127.0.0.1:{port}/login/", processes[-1], timeout=60)
    listening = time.monotonic()
    deadline = listening + 60  # generous: the old agent gave up after 3 s and waited for its 300 s resync
    while not host_in_graph() and time.monotonic() < deadline:
        time.sleep(0.2)
    delay = time.monotonic() - listening
    assert host_in_graph(), agent_log.read_text()[-3000:] + (tmp_path / "daphne.log").read_text()[-3000:]
    print(f"\nphysical view has host:{HOST} {delay:.1f} s after daphne answered")
    assert HostReport.objects.get(host=HOST).report["host"] == HOST
    # The agent logs once it has read the answer, just after the graph was stored: the start report sent
    # again, or a newer one where the host's interfaces changed meanwhile (a lab coming up or going down
    # on this machine: the netlink report supersedes the one waiting to be retried, latest state wins).
    delivered = re.compile(r"report sent \((start, again|netlink)\)")
    deadline = time.monotonic() + 10
    while not delivered.search(agent_log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert delivered.search(agent_log.read_text()), agent_log.read_text()
