"""The long-running agent sends an undelivered report again until it gets through
(topology/agent/delivery.py): the delays, and the real agent process against a
real HTTP server that starts late, refuses, or asks it to wait."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.agent.conftest import needs_root
from tests.agent.test_cli_and_send import PYTHON, REPO, Recorder
from tests.conftest import free_port
from topology.agent.delivery import Backoff
from topology.agent.netlink import current_namespace_fd, entered
from topology.agent.send import SendFailed


def delays(backoff: Backoff, failure: SendFailed, n: int) -> list[float]:
    return [backoff.delay(failure) for _ in range(n)]


def test_the_delays_double_to_their_cap_and_restart_after_a_delivery() -> None:
    unreachable, failing = SendFailed("refused"), SendFailed("HTTP 500", answered=True)
    backoff = Backoff()
    assert delays(backoff, unreachable, 4) == [1.0, 2.0, 2.0, 2.0]
    backoff.reset()
    assert delays(backoff, failing, 7) == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert backoff.delay(SendFailed("HTTP 503", answered=True, retry_after=12.0)) == 12.0
    backoff.reset()
    assert backoff.delay(unreachable) == 1.0


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


@pytest.fixture
def own_net() -> Iterator[int]:
    """A network namespace of the test's own, held by a process (its pid): the agent runs and the
    server listens there. In the machine's, any link, address or iptables change (a lab's, its
    agents') is a netlink event: the agent reports afresh (trigger netlink) and that report, not
    the first one sent again, is the one the server gets (seen 2 runs in 10 on a shared machine)."""
    needs_root()
    holder = subprocess.Popen(["unshare", "--net", "sh", "-c", "ip link set lo up && exec sleep infinity"])
    try:
        cmdline = Path(f"/proc/{holder.pid}/cmdline")
        assert wait_until(lambda: cmdline.read_bytes().startswith(b"sleep\0"), 30), "the holder did not start"
        assert os.readlink(f"/proc/{holder.pid}/ns/net") != os.readlink("/proc/self/ns/net")
        yield holder.pid
    finally:
        holder.kill()
        holder.wait()


@pytest.fixture
def agent(tmp_path: Path, own_net: int) -> Iterator[Callable[[str], Path]]:
    """Start `python -m topology.agent` posting to a URL (no OVS, no namespaces, resync in 300 s), in
    the test's own network namespace (`own_net`); its log."""
    started: list[subprocess.Popen[bytes]] = []

    def start(url: str) -> Path:
        (tmp_path / "netns").mkdir()
        (tmp_path / "token").write_text("tok-deliver\n")
        log = tmp_path / "agent.log"
        with log.open("wb") as out:
            started.append(
                subprocess.Popen(
                    [
                        "nsenter",  # execs the agent: its pid is the agent's
                        "-t",
                        str(own_net),
                        "-n",
                        PYTHON,
                        "-m",
                        "topology.agent",
                        "--host",
                        "agt-deliver",
                        "--url",
                        url,
                        "--token-file",
                        str(tmp_path / "token"),
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
        return log

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(10)


def serve(port: int, net: int) -> ThreadingHTTPServer:
    """The recording server on 127.0.0.1:`port` of the network namespace of process `net` (the
    socket stays there; only this thread enters it, and only while it is made)."""
    target, root = os.open(f"/proc/{net}/ns/net", os.O_RDONLY | os.O_CLOEXEC), current_namespace_fd()
    try:
        with entered(target, root):
            server = ThreadingHTTPServer(("127.0.0.1", port), Recorder)
    finally:
        os.close(target)
        os.close(root)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_the_first_report_arrives_once_the_server_listens(agent: Callable[[str], Path], own_net: int) -> None:
    Recorder.answers, Recorder.received = [], []
    port = free_port()
    log = agent(f"http://127.0.0.1:{port}/api/v1/agents/report/")
    assert wait_until(lambda: log.read_text().count("not delivered") >= 4, 60), log.read_text()
    server = serve(port, own_net)  # 7 s and more after the agent's first attempt: the old sender had given up
    try:
        listening = time.monotonic()
        assert wait_until(lambda: bool(Recorder.received), 30), log.read_text()
        print(f"report received {time.monotonic() - listening:.1f} s after the server listened")
        assert Recorder.received[0][0]["Authorization"] == "Bearer tok-deliver"
        assert wait_until(lambda: "report sent (start, again)" in log.read_text(), 10), log.read_text()
    finally:
        server.shutdown()
        server.server_close()


def test_a_rejection_is_not_sent_again_and_a_retry_after_is_honoured(
    agent: Callable[[str], Path], own_net: int
) -> None:
    Recorder.received = []
    Recorder.answers = [(503, {"detail": "starting"}, {"Retry-After": "2"}), (401, {"detail": "unknown token"})]
    port = free_port()
    server = serve(port, own_net)
    try:
        log = agent(f"http://127.0.0.1:{port}/api/v1/agents/report/")
        assert wait_until(lambda: "the dashboard rejected the report" in log.read_text(), 30), log.read_text()
        text = log.read_text()
        assert "HTTP 503: starting" in text and "sending it again in 2.0 s" in text
        assert "HTTP 401: unknown token; not sent again" in text
        time.sleep(5)  # the loop keeps running (no events: no namespaces, no OVS) and must not post again
        assert len(Recorder.received) == 2, log.read_text()
    finally:
        server.shutdown()
        server.server_close()
