"""A websocket client on ``/ws/topology/`` the way the map page uses it (bench/ingest.py).

It connects over TCP to daphne with the browser's session cookie and Origin, sends
``topology.sync`` with the revision its REST read returned, and notes when each
marker (bench/ingest_stats.py) is first named by a delta. A plain RFC 6455 client
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

import orjson

from bench.ingest_stats import markers_in

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
    """Subscribed to the map's topology stream; ``seen`` maps marker -> time.monotonic() first named."""

    def __init__(self, port: int, cookie: str, revision: int) -> None:
        self.port, self.cookie, self.revision = port, cookie, revision
        self.seen: dict[str, float] = {}
        self.types: Counter[str] = Counter()
        self.bytes = 0
        self.closed: str | None = None
        self.sock: socket.socket | None = None
        self.buffer = b""
        self.thread = threading.Thread(target=self.read_loop, name="topology-ws", daemon=True)

    def start(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f"GET /ws/topology/ HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                      f"Origin: http://127.0.0.1:{self.port}\r\nCookie: {self.cookie}\r\n\r\n").encode())
        while b"\r\n\r\n" not in self.buffer:
            chunk = sock.recv(65536)
            if not chunk:
                raise RuntimeError("/ws/topology/: closed during the handshake")
            self.buffer += chunk
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(f"/ws/topology/ refused: {head[:200]!r}")
        sock.settimeout(None)
        self.sock = sock
        self.send(TEXT, orjson.dumps({"type": "topology.sync", "revision": self.revision}))
        self.thread.start()

    def send(self, opcode: int, payload: bytes) -> None:
        assert self.sock is not None
        self.sock.sendall(frame(opcode, payload))

    def read(self, n: int) -> bytes:
        assert self.sock is not None
        while len(self.buffer) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("closed")
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
        try:
            while True:
                fin, opcode, payload = self.next_frame()
                if opcode == CLOSE:
                    code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                    self.closed = self.closed or f"closed by the server ({code})"
                    return
                if opcode == PING:
                    self.send(PONG, payload)
                    continue
                if opcode == PONG:
                    continue
                message += payload
                if fin:
                    self.received(message)
                    message = b""
        except (OSError, ConnectionError) as exc:
            self.closed = self.closed or f"connection ended ({exc})"

    def received(self, payload: bytes) -> None:
        at = time.monotonic()
        self.bytes += len(payload)
        message = orjson.loads(payload)
        self.types[str(message.get("type"))] += 1
        for marker in markers_in(message):
            self.seen.setdefault(marker, at)

    def stop(self) -> None:
        if self.sock is None:
            return
        try:
            self.closed = self.closed or "open to the end, closed by the client"
            self.send(CLOSE, struct.pack("!H", 1000))
            self.thread.join(2)
        except OSError:
            pass
        self.sock.close()

    def summary(self) -> str:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.types.items())) or "none"
        return f"{sum(self.types.values())} messages ({kinds}), {self.bytes / 1e6:.1f} MB, {self.closed or 'open'}"
