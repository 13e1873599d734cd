"""Netlink message framing: requests, dumps (retried when interrupted) and the RTM_GETNSID query."""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from pyroute2.netlink.rtnl.nsidmsg import nsidmsg

T = TypeVar("T")


NLM_F_REQUEST = 0x1
NLM_F_MULTI = 0x2
NLM_F_DUMP_INTR = 0x10
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3

RTM_GETLINK = 18
RTM_GETADDR = 22
RTM_GETROUTE = 26
RTM_GETRULE = 34
RTM_NEWNSID = 88
RTM_GETNSID = 90
NETNSA_FD = 3


_NLMSG_HEADER = struct.Struct("=IHHII")
_RECV_SIZE = 1 << 20
_DUMP_RETRIES = 3


class _Requester:
    """Sequence numbers and reply parsing for one netlink socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.seq = 0

    def dump(self, msg_type: int, body: bytes, parser: Callable[[bytes], T]) -> list[T]:
        for _ in range(_DUMP_RETRIES):
            messages, interrupted = self._dump_once(msg_type, body, parser)
            if not interrupted:
                return messages
        # A dump that keeps being interrupted by concurrent changes is still
        # the best we have; the next collection will be consistent.
        return messages

    def _dump_once(self, msg_type: int, body: bytes, parser: Callable[[bytes], T]) -> tuple[list[T], bool]:
        self.seq += 1
        seq = self.seq
        self.sock.send(_NLMSG_HEADER.pack(16 + len(body), msg_type, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body)
        messages: list[T] = []
        interrupted = False
        while True:
            data = self.sock.recv(_RECV_SIZE)
            for msg_type_in, flags, data_slice in _split(data, seq):
                if msg_type_in == NLMSG_DONE:
                    return messages, interrupted
                if msg_type_in == NLMSG_ERROR:
                    _raise_netlink_error(data_slice)
                    continue
                interrupted = interrupted or bool(flags & NLM_F_DUMP_INTR)
                messages.append(parser(data_slice))

    def request(self, msg_type: int, body: bytes, parser: Callable[[bytes], T]) -> T:
        self.seq += 1
        seq = self.seq
        self.sock.send(_NLMSG_HEADER.pack(16 + len(body), msg_type, NLM_F_REQUEST, seq, 0) + body)
        while True:
            data = self.sock.recv(_RECV_SIZE)
            for msg_type_in, _flags, data_slice in _split(data, seq):
                if msg_type_in == NLMSG_ERROR:
                    _raise_netlink_error(data_slice)
                    continue
                return parser(data_slice)


def decoded(message_class: type) -> Callable[[bytes], Any]:
    """A parser that decodes with one of pyroute2's message classes."""

    def parse(data: bytes) -> Any:
        msg = message_class(data)
        msg.decode()
        return msg

    return parse


def _split(data: bytes, seq: int) -> Iterator[tuple[int, int, bytes]]:
    offset = 0
    while offset + _NLMSG_HEADER.size <= len(data):
        length, msg_type, flags, msg_seq, _pid = _NLMSG_HEADER.unpack_from(data, offset)
        if length < _NLMSG_HEADER.size:
            return
        if msg_seq == seq:
            yield msg_type, flags, data[offset : offset + length]
        offset += (length + 3) & ~3


def _raise_netlink_error(data: bytes) -> None:
    (code,) = struct.unpack_from("=i", data, _NLMSG_HEADER.size)
    if code != 0:  # 0 is an ACK
        raise OSError(-code, os.strerror(-code))


_IFINFO_BODY = struct.pack("=BxHiII", socket.AF_UNSPEC, 0, 0, 0, 0)
_IFADDR_BODY = struct.pack("=BBBBI", socket.AF_UNSPEC, 0, 0, 0, 0)
_RTMSG_BODY = struct.pack("=BBBBBBBBI", socket.AF_UNSPEC, 0, 0, 0, 0, 0, 0, 0, 0)


def query_nsid(sock: socket.socket, target_fd: int) -> int | None:
    """The id the socket's namespace gives to namespace ``target_fd`` (None if it gave none).

    A veth's IFLA_LINK_NETNSID is such an id, relative to the namespace the
    veth lives in; RTM_GETNSID only reads it, it never assigns one.
    """
    body = struct.pack("=Bxxx", socket.AF_UNSPEC) + struct.pack("=HHI", 8, NETNSA_FD, target_fd)
    msg = _Requester(sock).request(RTM_GETNSID, body, decoded(nsidmsg))
    nsid = msg.get_attr("NETNSA_NSID")
    return None if nsid is None or nsid < 0 else int(nsid)
