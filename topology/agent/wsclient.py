"""A minimal websocket client (RFC 6455), stdlib only: text messages, ping/pong, close.

Enough for the agent's probe channel (topology/agent/channel.py): one
connection the agent opens to the dashboard, JSON text messages both ways.
Frames it sends are masked (client to server); fragmented messages are
reassembled; a message over ``max_message`` bytes closes the connection.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import socket
import ssl
import struct
import threading
from urllib.parse import urlsplit

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def client_frame(opcode: int, payload: bytes) -> bytes:
    """One client frame: FIN set, the payload masked as RFC 6455 requires of a client."""
    header = bytes([0x80 | opcode])
    size = len(payload)
    if size < 126:
        header += bytes([0x80 | size])
    elif size < 1 << 16:
        header += bytes([0x80 | 126]) + struct.pack("!H", size)
    else:
        header += bytes([0x80 | 127]) + struct.pack("!Q", size)
    mask = os.urandom(4)
    return header + mask + bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))


class WebSocketError(Exception):
    """The connection failed, was refused or closed."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status of a refused handshake


class WebSocket:
    def __init__(self, sock: socket.socket, max_message: int) -> None:
        self.sock = sock
        self.max_message = max_message
        self.send_lock = threading.Lock()
        self.buffer = b""

    @classmethod
    def connect(
        cls,
        url: str,
        headers: dict[str, str],
        timeout: float = 10.0,
        max_message: int = 1 << 20,
        ssl_context: ssl.SSLContext | None = None,
    ) -> WebSocket:
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise WebSocketError(f"not a ws:// or wss:// URL: {url}")
        port = parts.port or (443 if parts.scheme == "wss" else 80)
        try:
            sock = socket.create_connection((parts.hostname, port), timeout=timeout)
            if parts.scheme == "wss":
                sock = (ssl_context or ssl.create_default_context()).wrap_socket(sock, server_hostname=parts.hostname)
        except OSError as exc:
            raise WebSocketError(f"{url}: {exc}") from exc
        key = base64.b64encode(os.urandom(16)).decode()
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        ws = cls(sock, max_message)
        try:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            head = ws._read_until(b"\r\n\r\n", 16384)
        except OSError as exc:
            sock.close()
            raise WebSocketError(f"{url}: {exc}") from exc
        status_line, *header_lines = head.decode("latin1").split("\r\n")
        fields = status_line.split(" ", 2)
        status = int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else 0
        answer = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            answer[name.strip().lower()] = value.strip()
        expected = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        if status != 101 or answer.get("sec-websocket-accept") != expected:
            sock.close()
            raise WebSocketError(f"{url}: handshake refused ({status_line.strip()[:100]})", status=status or None)
        sock.settimeout(None)
        return ws

    def _read_until(self, marker: bytes, limit: int) -> bytes:
        while marker not in self.buffer:
            if len(self.buffer) > limit:
                raise WebSocketError("handshake answer too long")
            data = self.sock.recv(4096)
            if not data:
                raise WebSocketError("connection closed during the handshake")
            self.buffer += data
        head, _, self.buffer = self.buffer.partition(marker)
        return head

    def _read_exact(self, size: int) -> bytes:
        while len(self.buffer) < size:
            data = self.sock.recv(max(65536, size - len(self.buffer)))
            if not data:
                raise WebSocketError("connection closed")
            self.buffer += data
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def send_frame(self, opcode: int, payload: bytes) -> None:
        data = client_frame(opcode, payload)
        with self.send_lock:
            try:
                self.sock.sendall(data)
            except OSError as exc:
                raise WebSocketError(f"send failed: {exc}") from exc

    def send_text(self, text: str) -> None:
        self.send_frame(OP_TEXT, text.encode())

    def receive_text(self) -> str:
        """The next text message (pings are answered on the way); raises WebSocketError when closed."""
        message = b""
        while True:
            try:
                first, second = self._read_exact(2)
                size = second & 0x7F
                if size == 126:
                    size = struct.unpack("!H", self._read_exact(2))[0]
                elif size == 127:
                    size = struct.unpack("!Q", self._read_exact(8))[0]
                if size + len(message) > self.max_message:
                    raise WebSocketError(f"message larger than {self.max_message} bytes")
                mask = self._read_exact(4) if second & 0x80 else b""
                payload = self._read_exact(size)
            except OSError as exc:
                raise WebSocketError(f"receive failed: {exc}") from exc
            if mask:
                payload = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
            opcode = first & 0x0F
            if opcode == OP_PING:
                self.send_frame(OP_PONG, payload)
                continue
            if opcode == OP_PONG:
                continue
            if opcode == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                self.close()
                raise WebSocketError(f"closed by the server (code {code})", status=code)
            message += payload
            if first & 0x80:
                return message.decode(errors="replace")

    def close(self) -> None:
        with contextlib.suppress(WebSocketError):
            self.send_frame(OP_CLOSE, struct.pack("!H", 1000))
        with contextlib.suppress(OSError):
            self.sock.close()
