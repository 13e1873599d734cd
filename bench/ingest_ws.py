"""A websocket client on ``/ws/topology/`` the way the map page uses it (bench/ingest.py).

It connects over TCP to daphne with the browser's session cookie and Origin, sends
``topology.sync`` with the revision its REST read returned, and notes when each
marker (bench/ingest_stats.py) is first named by a delta (or, after a reconnection, by
the REST read the page makes then). A plain RFC 6455 client
on a blocking socket in its own thread: the virtualenv has no websocket client
library, and autobahn's asyncio flavour cannot run once Django's setup has chosen
Twisted for txaio (daphne).
"""

from __future__ import annotations

import base64
import os
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable

import orjson

from bench.ingest_stats import MARKER_IN_BODY, markers_in

TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA


def frame(opcode: int, payload: bytes) -> bytes:
    """A client frame (FIN set, masked as RFC 6455 requires of clients)."""
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 1 << 16:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class TopologyStream:
    """Subscribed to the map's topology stream as static/js/map.js is: on open a REST read (``resync``:
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
        self.sock: socket.socket | None = None
        self.buffer = b""
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
            except (OSError, ConnectionError, RuntimeError, ValueError) as exc:
                self.closes.append(f"{type(exc).__name__}: {exc}"[:200])
            if self.stopping or (self.closes and self.closes[-1].startswith("closed by the server (4401)")):
                return
            retry = min(retry + 1, 6)
            time.sleep(0.5 * 2**retry)

    def open(self) -> None:
        self.buffer = b""
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            (
                f"GET /ws/topology/ HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Origin: http://127.0.0.1:{self.port}\r\nCookie: {self.cookie}\r\n\r\n"
            ).encode()
        )
        self.sock = sock
        while b"\r\n\r\n" not in self.buffer:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed during the handshake")
            self.buffer += chunk
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(f"refused: {head[:200]!r}")
        sock.settimeout(None)
        self.do_resync()

    def do_resync(self) -> None:
        revision, body = self.resync()
        at = time.monotonic()
        for marker in MARKER_IN_BODY.findall(body):
            self.seen_rest.setdefault(marker, at)
        self.send(TEXT, orjson.dumps({"type": "topology.sync", "revision": revision}))

    def send(self, opcode: int, payload: bytes) -> None:
        assert self.sock is not None
        self.sock.sendall(frame(opcode, payload))

    def read(self, n: int) -> bytes:
        assert self.sock is not None
        while len(self.buffer) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("connection ended")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def next_frame(self) -> tuple[bool, int, bytes]:
        b0, b1 = self.read(2)
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", self.read(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", self.read(8))
        return bool(b0 & 0x80), b0 & 0x0F, self.read(n)  # a server's frames are not masked

    def read_loop(self) -> None:
        message = b""
        while True:
            fin, opcode, payload = self.next_frame()
            if opcode == CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                if not self.stopping:
                    self.closes.append(f"closed by the server ({code})")
                return
            if opcode == PING:
                self.send(PONG, payload)
            elif opcode != PONG:
                message += payload
                if fin:
                    self.received(message)
                    message = b""

    def received(self, payload: bytes) -> None:
        at = time.monotonic()
        self.bytes += len(payload)
        message = orjson.loads(payload)
        self.types[str(message.get("type"))] += 1
        for marker in markers_in(message):
            self.seen.setdefault(marker, at)
        if message.get("type") == "topology.resync":
            self.do_resync()

    def stop(self) -> None:
        self.stopping = True
        if self.sock is None:
            return
        try:
            self.send(CLOSE, struct.pack("!H", 1000))
            self.thread.join(2)
        except OSError:
            pass
        self.sock.close()

    def summary(self) -> str:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.types.items())) or "none"
        closes = "; ".join(self.closes[:3]) + (" ..." if len(self.closes) > 3 else "")
        return (
            f"{sum(self.types.values())} messages ({kinds}), {self.bytes / 1e6:.1f} MB; "
            f"{len(self.closes)} disconnections{': ' + closes if closes else ''}"
        )
