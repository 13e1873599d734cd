"""TCP relays from loopback ports in another network namespace to host 1's loopback.

    python netns_relay.py /proc/<holder>/ns/net 5672 8000

listens on 127.0.0.1:<port> inside the namespace given (compute2's) and
connects each client to 127.0.0.1:<port> in this process's own namespace
(host 1's), so compute2's agents reach RabbitMQ and the node agent reaches
the dashboard at the addresses they would use on host 1, and nothing listens
on any address outside loopback. Root only (setns). No imports beyond the
standard library: it runs under any Python 3.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import socket
import sys

CLONE_NEWNET = 0x40000000


def setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def listening_sockets(netns_path: str, ports: list[int]) -> list[socket.socket]:
    """Sockets bound inside `netns_path`; a socket stays in the namespace it was made in."""
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(netns_path, os.O_RDONLY)
    try:
        setns(target)
        socks = []
        for port in ports:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            s.listen(64)
            s.setblocking(False)
            socks.append(s)
        return socks
    finally:
        setns(home)
        os.close(home)
        os.close(target)


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


def handler(port: int):  # type: ignore[no-untyped-def]
    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(pipe(client_r, server_w), pipe(server_r, client_w))

    return handle


async def main(netns_path: str, ports: list[int]) -> None:
    servers = [
        await asyncio.start_server(handler(port), sock=sock)
        for port, sock in zip(ports, listening_sockets(netns_path, ports), strict=True)
    ]
    print(f"relaying 127.0.0.1:{ports} from {netns_path}", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], [int(p) for p in sys.argv[2:]]))
