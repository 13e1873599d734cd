"""The agent's request channel: a websocket it opens to the dashboard and keeps, for read-only probes.

The dashboard never connects into a node: the agent dials
``ws(s)://<dashboard>/ws/agents/`` with ``Authorization: Bearer <host token>``
(the token it reports with) and reconnects with backoff (1 s doubling to
30 s, reset once connected). Messages are JSON text:

* agent -> dashboard ``{"type": "ping"}`` every PING_S seconds (keeps the
  dashboard's presence record of this host alive);
* dashboard -> agent ``{"type": "probe.request", "id", "kind", "args", "timeout"}``;
* agent -> dashboard ``{"type": "probe.result", "id", "result"}``, where
  ``result`` is topology.agent.probes.run_probe's answer.

Probes run in worker threads (at most MAX_RUNNING at once; more are answered
"busy") so that pings and other answers go on while one runs.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from topology.agent import probes
from topology.agent.send import USER_AGENT
from topology.agent.wsclient import WebSocket, WebSocketError

LOG = logging.getLogger(__name__)
CHANNEL_PATH = "/ws/agents/"
PING_S = 10.0
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0
MAX_RUNNING = 4


def channel_url(report_url: str) -> str:
    """The channel's URL on the same dashboard as the report URL: http(s) -> ws(s), path /ws/agents/."""
    parts = urlsplit(report_url)
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, CHANNEL_PATH, "", ""))


class ProbeChannel:
    """Keeps the channel open in a daemon thread until ``stop()``."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        connect: Callable[..., WebSocket] = WebSocket.connect,
        active: bool = False,
        ovn_sb_db: str | None = None,
    ) -> None:
        self.active = active  # active_probes: whether a probe that sends a packet may run
        self.ovn_sb_db = ovn_sb_db  # ovn_trace's southbound (None: the chassis's own ovn-remote)
        self.url = url
        self.token = token
        self._connect = connect
        self._stop = threading.Event()
        self._running = threading.Semaphore(MAX_RUNNING)
        self._ws: WebSocket | None = None
        self.connected = threading.Event()
        self.thread = threading.Thread(target=self.run, name="probe-channel", daemon=True)

    def start(self) -> ProbeChannel:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        ws = self._ws
        if ws is not None:
            ws.close()

    def run(self) -> None:
        delay = FIRST_BACKOFF_S
        while not self._stop.is_set():
            try:
                ws = self._connect(self.url, {"Authorization": f"Bearer {self.token}", "User-Agent": USER_AGENT})
            except WebSocketError as exc:
                LOG.warning("probe channel %s: %s; again in %.0f s", self.url, exc, delay)
                if self._stop.wait(delay):
                    return
                delay = min(delay * 2, MAX_BACKOFF_S)
                continue
            delay = FIRST_BACKOFF_S
            self._ws = ws
            self.connected.set()
            LOG.info("probe channel open: %s", self.url)
            pinger = threading.Thread(target=self._ping, args=(ws,), name="probe-channel-ping", daemon=True)
            pinger.start()
            try:
                while True:
                    self.handle(ws, ws.receive_text())
            except WebSocketError as exc:
                if not self._stop.is_set():
                    LOG.warning("probe channel closed: %s; reconnecting", exc)
            finally:
                self.connected.clear()
                self._ws = None
                ws.close()
            if self._stop.wait(delay):
                return

    def _ping(self, ws: WebSocket) -> None:
        while not self._stop.wait(PING_S) and self._ws is ws:
            try:
                ws.send_text(json.dumps({"type": "ping"}))
            except WebSocketError:
                return

    def handle(self, ws: WebSocket, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            return
        if not isinstance(message, dict) or message.get("type") != "probe.request":
            return
        request_id = message.get("id")
        if not isinstance(request_id, str):
            return
        if not self._running.acquire(blocking=False):
            self.answer(ws, request_id, {"ok": False, "error": f"busy: {MAX_RUNNING} probes already running"})
            return
        worker = threading.Thread(target=self._run_probe, args=(ws, request_id, message), daemon=True)
        worker.start()

    def _run_probe(self, ws: WebSocket, request_id: str, message: dict[str, Any]) -> None:
        try:
            timeout = message.get("timeout")
            timeout = float(timeout) if isinstance(timeout, (int, float)) else probes.DEFAULT_TIMEOUT_S
            result = probes.run_probe(
                message.get("kind"), message.get("args"), timeout, allow_active=self.active, ovn_sb_db=self.ovn_sb_db
            )
            LOG.info(
                "probe %s %s: %s", message.get("kind"), request_id, "ok" if result.get("ok") else result.get("error")
            )
            self.answer(ws, request_id, result)
        finally:
            self._running.release()

    @staticmethod
    def answer(ws: WebSocket, request_id: str, result: dict[str, Any]) -> None:
        try:
            ws.send_text(json.dumps({"type": "probe.result", "id": request_id, "result": result}))
        except WebSocketError as exc:
            LOG.warning("probe %s: could not answer: %s", request_id, exc)
