"""A websocket client on ``/ws/topology/`` the way the map page uses it (bench/ingest.py).

It connects over TCP to daphne with the browser's session cookie and Origin, sends
``topology.sync`` with the revision its REST read returned, and notes when each
marker (bench/ingest_stats.py) is first named by a delta (or, after a reconnection, by
the REST read the page makes then). The node agent's own RFC 6455
client (topology/agent/wsclient.py) on a blocking socket in its own thread: the virtualenv has no
websocket client library, and autobahn's asyncio flavour cannot run once Django's setup has chosen
Twisted for txaio (daphne).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import orjson

from bench.ingest_stats import MARKER_IN_BODY, markers_in
from topology.agent.wsclient import WebSocket, WebSocketError

MAX_MESSAGE = 1 << 28  # a resync after a reconnection may carry a whole view's delta
UNAUTHORIZED = 4401  # the consumer's close code for a caller it does not know: no reconnection


class TopologyStream:
    """Subscribed to the map's topology stream as static/js/map/ is: on open a REST read (``resync``:
    the revision and the body) then ``topology.sync``; on a close other than 4401, again after 1, 2,
    4... up to 32 s. ``seen`` maps marker -> time.monotonic() a delta first named it, ``seen_rest``
    the time a resync's REST body first held it."""

    def __init__(self, port: int, cookie: str, resync: Callable[[], tuple[int, str]]) -> None:
        self.port, self.cookie, self.resync = port, cookie, resync
        self.seen: dict[str, float] = {}
        self.seen_rest: dict[str, float] = {}
        self.types: Counter[str] = Counter()
        self.closes: list[str] = []
        self.bytes = 0
        self.ws: WebSocket | None = None
        self.stopping = False
        self.opened = threading.Event()
        self.thread = threading.Thread(target=self.run, name="topology-ws", daemon=True)

    def start(self, timeout: float = 120) -> None:
        self.thread.start()
        if not self.opened.wait(timeout):
            raise RuntimeError(f"/ws/topology/ did not open in {timeout:.0f} s: {self.closes}")

    def run(self) -> None:
        retry = 0
        while not self.stopping:
            try:
                self.open()
                retry = 0
                self.opened.set()
                self.read_loop()
            except WebSocketError as exc:
                if self.stopping:
                    return
                self.closes.append(f"{exc}"[:200])
                if exc.status == UNAUTHORIZED:
                    return
            except (OSError, RuntimeError, ValueError) as exc:
                self.closes.append(f"{type(exc).__name__}: {exc}"[:200])
            if self.stopping:
                return
            retry = min(retry + 1, 6)
            time.sleep(0.5 * 2**retry)

    def open(self) -> None:
        origin = f"http://127.0.0.1:{self.port}"
        self.ws = WebSocket.connect(
            f"ws://127.0.0.1:{self.port}/ws/topology/",
            {"Origin": origin, "Cookie": self.cookie},
            timeout=60,
            max_message=MAX_MESSAGE,
        )
        self.do_resync()

    def do_resync(self) -> None:
        revision, body = self.resync()
        at = time.monotonic()
        for marker in MARKER_IN_BODY.findall(body):
            self.seen_rest.setdefault(marker, at)
        assert self.ws is not None
        self.ws.send_text(orjson.dumps({"type": "topology.sync", "revision": revision}).decode())

    def read_loop(self) -> None:
        assert self.ws is not None
        while True:
            self.received(self.ws.receive_text())

    def received(self, text: str) -> None:
        at = time.monotonic()
        self.bytes += len(text)
        message = orjson.loads(text)
        self.types[str(message.get("type"))] += 1
        for marker in markers_in(message):
            self.seen.setdefault(marker, at)
        if message.get("type") == "topology.resync":
            self.do_resync()

    def stop(self) -> None:
        self.stopping = True
        if self.ws is not None:
            self.ws.close()
        self.thread.join(2)

    def summary(self) -> str:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.types.items())) or "none"
        closes = "; ".join(self.closes[:3]) + (" ..." if len(self.closes) > 3 else "")
        return (
            f"{sum(self.types.values())} messages ({kinds}), {self.bytes / 1e6:.1f} MB; "
            f"{len(self.closes)} disconnections{': ' + closes if closes else ''}"
        )
