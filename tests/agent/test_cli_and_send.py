"""`python -m topology.agent` as a subprocess, and the report sender against a real local HTTP server."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.agent.conftest import needs_root
from topology.agent.send import ReportRejected, SendFailed, Target, post_report, retry_after
from topology.report import validate_report

REPO = Path(__file__).resolve().parents[2]
PYTHON = str(REPO / ".venv/bin/python")


def run_agent(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "topology.agent", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_it_prints_one_report_with_print_once() -> None:
    needs_root()
    done = run_agent("--print", "--once", "--host", "agt-cli", "--ovsdb", "none")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert validate_report(report) == []
    assert report["host"] == "agt-cli"
    assert any(iface["name"] == "lo" for iface in report["interfaces"])


def test_it_needs_a_token_to_send() -> None:
    done = run_agent("--once", "--host", "agt-cli", env={"TOPOLOGY_AGENT_TOKEN": ""})
    assert done.returncode == 2
    assert "a token is needed" in done.stderr


class Recorder(BaseHTTPRequestHandler):
    """Answers what the test queued; remembers what it received."""

    answers: list[tuple[int, dict[str, Any]] | tuple[int, dict[str, Any], dict[str, str]]] = []
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers), body))
        status, answer, *headers = self.answers.pop(0) if self.answers else (202, {"host": "agt-cli", "revision": 1})
        payload = json.dumps(answer).encode()
        self.send_response(status)
        for name, value in (headers[0] if headers else {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def dashboard() -> Iterator[str]:
    Recorder.answers, Recorder.received = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/v1/agents/report/"
    server.shutdown()
    server.server_close()


def test_it_sends_with_the_bearer_token_gzip_optional(dashboard: str) -> None:
    report = {"version": 1, "host": "agt-cli"}
    assert post_report(report, Target(dashboard, "s3cret")) == {"host": "agt-cli", "revision": 1}
    assert post_report(report, Target(dashboard, "s3cret", gzip=True))["revision"] == 1
    (plain_headers, plain), (gz_headers, gz) = Recorder.received
    assert plain_headers["Authorization"] == "Bearer s3cret"
    assert json.loads(plain) == report
    assert gz_headers["Content-Encoding"] == "gzip" and json.loads(gzip.decompress(gz)) == report


def test_it_shows_the_reasons_of_a_400_and_does_not_retry(dashboard: str) -> None:
    Recorder.answers = [(400, {"detail": "report rejected", "reasons": ["version: must be 1", "host: is required"]})]
    with pytest.raises(ReportRejected) as caught:
        post_report({"version": 2}, Target(dashboard, "t"), sleep=lambda s: None)
    assert str(caught.value) == "HTTP 400: version: must be 1; host: is required"
    assert len(Recorder.received) == 1


def test_it_retries_server_errors_then_succeeds(dashboard: str) -> None:
    Recorder.answers = [(503, {"detail": "busy"}), (503, {"detail": "busy"})]
    sleeps: list[float] = []
    assert post_report({}, Target(dashboard, "t"), sleep=sleeps.append)["revision"] == 1
    assert sleeps == [1.0, 2.0]


def test_it_gives_up_on_an_unreachable_dashboard_after_backoff() -> None:
    sleeps: list[float] = []
    with pytest.raises(SendFailed, match="after 4 attempts"):
        post_report({}, Target("http://127.0.0.1:9/", "t", timeout=2), attempts=4, sleep=sleeps.append)
    assert sleeps == [1.0, 2.0, 4.0]


def test_the_cli_reports_a_rejection_with_the_servers_reason(dashboard: str, tmp_path: Path) -> None:
    needs_root()
    Recorder.answers = [(400, {"detail": "report rejected", "reasons": ["host: not known here"]})]
    token = tmp_path / "token"
    token.write_text("tok-123\n")
    done = run_agent("--once", "--host", "agt-cli", "--ovsdb", "none", "--url", dashboard, "--token-file", str(token))
    assert done.returncode == 2
    assert "HTTP 400: host: not known here" in done.stderr
    assert Recorder.received[0][0]["Authorization"] == "Bearer tok-123"


def test_it_waits_what_a_429_or_503_retry_after_says(dashboard: str) -> None:
    Recorder.answers = [
        (429, {"detail": "slow down"}, {"Retry-After": "7"}),
        (503, {"detail": "busy"}, {"Retry-After": "0"}),
        (429, {"detail": "slow down"}),
    ]
    sleeps: list[float] = []
    assert post_report({}, Target(dashboard, "t"), sleep=sleeps.append)["revision"] == 1
    # A 429 is "later", not a rejection; without Retry-After it takes the backoff's turn.
    assert sleeps == [7.0, 0.0, 4.0]
    assert len(Recorder.received) == 4


def test_it_gives_up_with_what_the_server_said(dashboard: str) -> None:
    Recorder.answers = [(503, {"detail": "busy"}, {"Retry-After": "3"})] * 2
    with pytest.raises(SendFailed) as caught:
        post_report({}, Target(dashboard, "t"), attempts=2, sleep=lambda s: None)
    assert caught.value.answered and caught.value.retry_after == 3.0


def test_a_4xx_other_than_429_is_not_retried(dashboard: str) -> None:
    Recorder.answers = [(403, {"detail": "token of another host"}, {"Retry-After": "1"})]
    with pytest.raises(ReportRejected, match="HTTP 403: token of another host"):
        post_report({}, Target(dashboard, "t"), sleep=lambda s: None)
    assert len(Recorder.received) == 1


def test_retry_after_reads_seconds_and_dates_and_bounds_them() -> None:
    now = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)
    assert retry_after("120", now) == 120.0
    assert retry_after("Wed, 02 Dec 2026 12:00:30 GMT", now) == 30.0
    assert retry_after("Wed, 02 Dec 2026 11:00:00 GMT", now) == 0.0  # in the past: now
    assert retry_after("99999", now) == 600.0
    assert retry_after("soon", now) is None and retry_after(None, now) is None and retry_after("", now) is None
