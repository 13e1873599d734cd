"""Entering network namespaces with setns(2) without ever creating one, and their netlink sockets."""

from __future__ import annotations

import ctypes
import errno
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from topology.agent.netlink.protocol import _RECV_SIZE

CLONE_NEWNET = 0x40000000


_libc = ctypes.CDLL(None, use_errno=True)


class NamespaceGone(Exception):
    """The namespace disappeared (or was never there) while being read."""


def open_namespace(netns_dir: Path, name: str) -> int:
    """An fd on an existing namespace; never creates one (no O_CREAT).

    Holding the fd keeps the namespace alive for the duration of the read,
    even if the L3 agent deletes it meanwhile.
    """
    if "/" in name or name in (".", ".."):
        raise NamespaceGone(f"not a namespace name: {name!r}")
    try:
        return os.open(netns_dir / name, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError as exc:
        raise NamespaceGone(name) from exc


def current_namespace_fd() -> int:
    """An fd on the calling thread's namespace (the agent's "root" namespace)."""
    return os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)


def namespace_inode(fd: int) -> int:
    return os.fstat(fd).st_ino


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


@contextmanager
def entered(fd: int, root_fd: int) -> Iterator[None]:
    """Run the block with the calling thread inside namespace ``fd``.

    setns(2) with CLONE_NEWNET changes only the calling thread, so other
    threads (the OVSDB connection) are unaffected; sockets and child
    processes created inside the block belong to the namespace.
    """
    try:
        _setns(fd)
    except OSError as exc:
        # EINVAL: the file under /run/netns exists but is not (or no longer)
        # a namespace mount, e.g. `ip netns add` has not bound it yet.
        raise NamespaceGone(str(exc)) from exc
    try:
        yield
    finally:
        _setns(root_fd)


def rtnl_socket(groups: int = 0) -> socket.socket:
    """A NETLINK_ROUTE socket in the calling thread's current namespace."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECV_SIZE)
    sock.bind((0, groups))
    return sock


def is_missing(exc: OSError) -> bool:
    """Errors meaning the namespace went away between listing and reading."""
    return exc.errno in (errno.ENOENT, errno.EINVAL, errno.EBADF)
