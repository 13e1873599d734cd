"""Links, addresses, routes and ip rules of one network namespace, read with netlink.

Why raw sockets plus pyroute2's message classes instead of ``IPRoute``:

* ``IPRoute(netns=...)``/``NetNS`` default to ``flags=os.O_CREAT`` and fork a
  child per socket: a typo or a namespace deleted by the L3 agent between
  listing and reading would *create* a namespace on a production node.
  Here a namespace is only ever opened with ``os.open(path, O_RDONLY)`` and
  entered with setns(2) on the calling thread, long enough to create a
  netlink socket (a socket stays bound to the namespace it was created in).
* pyroute2 0.9's ``IPRoute`` runs each request through its own asyncio
  loop: about 2.3 ms per namespace for the four dumps against about 0.65 ms
  with the same pyroute2 parsers over a plain socket, which is what makes a
  1,000-namespace network node fit in the collection budget.
"""

from __future__ import annotations

import ctypes
import errno
import os
import socket
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pyroute2.netlink.rtnl.fibmsg import fibmsg
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.nsidmsg import nsidmsg
from pyroute2.netlink.rtnl.rtmsg import rtmsg

from topology.report import Interface, Route, Rule

T = TypeVar("T")

CLONE_NEWNET = 0x40000000

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

RT_TABLE_LOCAL = 255
ARPHRD_ETHER = 1
ARPHRD_LOOPBACK = 772
IFF_UP = 0x1

_NLMSG_HEADER = struct.Struct("=IHHII")
_RECV_SIZE = 1 << 20
_DUMP_RETRIES = 3

_ROUTE_TYPES = {
    1: "unicast", 2: "local", 3: "broadcast", 4: "anycast", 5: "multicast", 6: "blackhole",
    7: "unreachable", 8: "prohibit", 9: "throw", 10: "nat",
}
_ROUTE_PROTOS = {0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static", 9: "ra", 16: "dhcp"}
_ROUTE_SCOPES = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}
_RULE_ACTIONS = {1: "lookup", 2: "goto", 3: "nop", 6: "blackhole", 7: "unreachable", 8: "prohibit"}
_FAMILIES = {socket.AF_INET: 4, socket.AF_INET6: 6}

_libc = ctypes.CDLL(None, use_errno=True)


class NamespaceGone(Exception):
    """The namespace disappeared (or was never there) while being read."""


# --- entering namespaces ----------------------------------------------------


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


# --- netlink requests -------------------------------------------------------


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


# --- what one namespace holds ----------------------------------------------


@dataclass
class Link:
    """One interface as netlink reports it, before veth peers are resolved."""

    ifindex: int
    name: str
    kind: str
    mac: str | None
    mtu: int | None
    state: str | None
    admin_up: bool
    master_index: int | None
    link_index: int | None  # IFLA_LINK: a veth's peer ifindex (in the peer's namespace)
    link_nsid: int | None  # IFLA_LINK_NETNSID: where that peer lives, as an id local to this namespace


@dataclass
class NamespaceState:
    """Everything read from one namespace; ``name`` None is the root namespace."""

    name: str | None
    links: list[Link]
    addresses: dict[int, list[str]]
    routes: list[Route]
    rules: list[Rule]
    root_nsid: int | None = None  # the id this namespace gives to the root namespace
    by_index: dict[int, Link] = field(init=False)

    def __post_init__(self) -> None:
        self.by_index = {link.ifindex: link for link in self.links}


def read_namespace(sock: socket.socket, name: str | None) -> NamespaceState:
    """Dump links, addresses, routes (all tables but ``local``) and rules over ``sock``."""
    requester = _Requester(sock)
    links = requester.dump(RTM_GETLINK, _IFINFO_BODY, parse_link)
    names = {link.ifindex: link.name for link in links}
    addresses: dict[int, list[str]] = {}
    for found in requester.dump(RTM_GETADDR, _IFADDR_BODY, parse_address):
        if found is not None:
            addresses.setdefault(found[0], []).append(found[1])
    routes = [r for r in requester.dump(RTM_GETROUTE, _RTMSG_BODY, route_parser(names)) if r is not None]
    rules = [r for r in requester.dump(RTM_GETRULE, _RTMSG_BODY, parse_rule) if r is not None]
    return NamespaceState(name=name, links=links, addresses=addresses, routes=routes, rules=rules)


def read_namespace_with_pyroute2(sock: socket.socket, name: str | None) -> NamespaceState:
    """read_namespace() decoded by pyroute2's message classes: slower, the reference the tests hold it to."""
    requester = _Requester(sock)
    links = [link_from_ifinfmsg(msg) for msg in requester.dump(RTM_GETLINK, _IFINFO_BODY, decoded(ifinfmsg))]
    names = {link.ifindex: link.name for link in links}
    addresses: dict[int, list[str]] = {}
    for msg in requester.dump(RTM_GETADDR, _IFADDR_BODY, decoded(ifaddrmsg)):
        address = msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS")
        if address and msg["family"] in _FAMILIES:
            addresses.setdefault(msg["index"], []).append(f"{address}/{msg['prefixlen']}")
    routes = [
        route_from_rtmsg(msg, names)
        for msg in requester.dump(RTM_GETROUTE, _RTMSG_BODY, decoded(rtmsg))
        if _table(msg, "RTA_TABLE") != RT_TABLE_LOCAL and msg["family"] in _FAMILIES
    ]
    rules = [
        rule_from_fibmsg(msg)
        for msg in requester.dump(RTM_GETRULE, _RTMSG_BODY, decoded(fibmsg))
        if msg["family"] in _FAMILIES
    ]
    return NamespaceState(name=name, links=links, addresses=addresses, routes=routes, rules=rules)


# The four dumps are parsed here rather than with pyroute2's message
# classes: pyroute2 builds an object per attribute (a link message carries
# ~50: stats, per-family sysctls) where the report needs a handful; that was
# ~170 us per link against ~20 us here, and most of a 1,000-namespace
# collection. read_namespace_with_pyroute2() is the same reading with
# pyroute2's ifinfmsg/ifaddrmsg/rtmsg/fibmsg, kept as the reference the
# tests hold these parsers to.
IFLA_ADDRESS = 1
IFLA_IFNAME = 3
IFLA_MTU = 4
IFLA_LINK = 5
IFLA_MASTER = 10
IFLA_OPERSTATE = 16
IFLA_LINKINFO = 18
IFLA_LINK_NETNSID = 37
IFLA_INFO_KIND = 1
IFLA_INFO_DATA = 2
IFLA_TUN_TYPE = 3
_OPERSTATES = ("UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP")
_IFINFOMSG = struct.Struct("=BxHiII")
_NLA = struct.Struct("=HH")
_U32 = struct.Struct("=I")
_S32 = struct.Struct("=i")


def _attributes(data: bytes, start: int, end: int) -> dict[int, tuple[int, int]]:
    """Netlink attributes in data[start:end]: type -> (payload start, payload end)."""
    found: dict[int, tuple[int, int]] = {}
    offset = start
    while offset + 4 <= end:
        length, attr_type = _NLA.unpack_from(data, offset)
        if length < 4:
            break
        found[attr_type & 0x3FFF] = (offset + 4, offset + length)  # without NLA_F_NESTED/NET_BYTEORDER
        offset += (length + 3) & ~3
    return found


def _string(data: bytes, span: tuple[int, int] | None) -> str | None:
    return data[span[0] : span[1]].split(b"\0", 1)[0].decode(errors="replace") if span else None


def _u32(data: bytes, span: tuple[int, int] | None) -> int | None:
    return int(_U32.unpack_from(data, span[0])[0]) if span and span[1] - span[0] >= 4 else None


def parse_link(data: bytes) -> Link:
    """One RTM_NEWLINK message (header included) as a Link."""
    _family, ifi_type, index, flags, _change = _IFINFOMSG.unpack_from(data, _NLMSG_HEADER.size)
    attrs = _attributes(data, _NLMSG_HEADER.size + _IFINFOMSG.size, len(data))
    kind = tun_type = None
    if IFLA_LINKINFO in attrs:
        info = _attributes(data, *attrs[IFLA_LINKINFO])
        kind = _string(data, info.get(IFLA_INFO_KIND))
        if kind == "tun" and IFLA_INFO_DATA in info:
            tun = _attributes(data, *info[IFLA_INFO_DATA]).get(IFLA_TUN_TYPE)
            tun_type = data[tun[0]] if tun and tun[1] > tun[0] else None
    mac_span = attrs.get(IFLA_ADDRESS)
    operstate = attrs.get(IFLA_OPERSTATE)
    nsid = attrs.get(IFLA_LINK_NETNSID)
    return Link(
        ifindex=index,
        name=_string(data, attrs.get(IFLA_IFNAME)) or "",
        kind=_kind_of(kind, ifi_type, tun_type),
        # Only Ethernet-like hardware addresses: tunnels report IPv4 bytes here.
        mac=":".join(f"{b:02x}" for b in data[mac_span[0] : mac_span[1]])
        if mac_span and mac_span[1] - mac_span[0] == 6
        else None,
        mtu=_u32(data, attrs.get(IFLA_MTU)),
        state=_OPERSTATES[data[operstate[0]]] if operstate and data[operstate[0]] < len(_OPERSTATES) else None,
        admin_up=bool(flags & IFF_UP),
        master_index=_u32(data, attrs.get(IFLA_MASTER)) or None,
        link_index=_u32(data, attrs.get(IFLA_LINK)) or None,
        link_nsid=int(_S32.unpack_from(data, nsid[0])[0]) if nsid else None,
    )


IFA_ADDRESS = 1
IFA_LOCAL = 2
RTA_DST = 1
RTA_OIF = 4
RTA_GATEWAY = 5
RTA_PRIORITY = 6
RTA_PREFSRC = 7
RTA_MULTIPATH = 9
RTA_TABLE = 15
RTA_VIA = 18
FRA_DST = 1
FRA_SRC = 2
FRA_IIFNAME = 3
FRA_PRIORITY = 6
FRA_FWMARK = 10
FRA_TABLE = 15
FRA_FWMASK = 16
FRA_OIFNAME = 17
_IFADDRMSG = struct.Struct("=BBBBI")
_RTMSG = struct.Struct("=BBBBBBBBI")  # rtmsg and fib_rule_hdr share this layout
_RTNEXTHOP = struct.Struct("=HBBi")


def _ip(data: bytes, span: tuple[int, int] | None, family: int) -> str | None:
    if not span:
        return None
    try:
        return socket.inet_ntop(family, data[span[0] : span[1]])
    except ValueError:
        return None


def _via(data: bytes, span: tuple[int, int] | None) -> str | None:
    """RTA_VIA: a gateway of another family (IPv4 routes via an IPv6 next hop)."""
    if not span or span[1] - span[0] < 2:
        return None
    (family,) = struct.unpack_from("=H", data, span[0])
    return _ip(data, (span[0] + 2, span[1]), family)


def parse_address(data: bytes) -> tuple[int, str] | None:
    """One RTM_NEWADDR message: (ifindex, "address/prefixlen"), None for other families."""
    family, prefixlen, _flags, _scope, index = _IFADDRMSG.unpack_from(data, _NLMSG_HEADER.size)
    if family not in _FAMILIES:
        return None
    attrs = _attributes(data, _NLMSG_HEADER.size + _IFADDRMSG.size, len(data))
    # IFA_LOCAL is the local address; IFA_ADDRESS the peer's on point-to-point links.
    address = _ip(data, attrs.get(IFA_LOCAL), family) or _ip(data, attrs.get(IFA_ADDRESS), family)
    return (index, f"{address}/{prefixlen}") if address else None


def route_parser(names: dict[int, str]) -> Callable[[bytes], Route | None]:
    """A parser of RTM_NEWROUTE messages naming devices with ``names`` (ifindex -> name)."""

    def parse(data: bytes) -> Route | None:
        family, dst_len, _src_len, _tos, table, proto, scope, rtype, _flags = _RTMSG.unpack_from(
            data, _NLMSG_HEADER.size
        )
        attrs = _attributes(data, _NLMSG_HEADER.size + _RTMSG.size, len(data))
        table = _u32(data, attrs.get(RTA_TABLE)) or table  # tables above 255 only fit in the attribute
        if table == RT_TABLE_LOCAL or family not in _FAMILIES:
            return None
        oif = _u32(data, attrs.get(RTA_OIF))
        route: Route = {
            "dst": _cidr(_ip(data, attrs.get(RTA_DST), family), dst_len, family),
            "gateway": _ip(data, attrs.get(RTA_GATEWAY), family) or _via(data, attrs.get(RTA_VIA)),
            "dev": names.get(oif) if oif is not None else None,
            "table": table,
            "src": _ip(data, attrs.get(RTA_PREFSRC), family),
            "family": _FAMILIES[family],
            "type": _ROUTE_TYPES.get(rtype, str(rtype)),
            "scope": _ROUTE_SCOPES.get(scope, str(scope)),
            "proto": _ROUTE_PROTOS.get(proto, str(proto)),
            "metric": _u32(data, attrs.get(RTA_PRIORITY)),
        }
        if RTA_MULTIPATH in attrs:
            route["nexthops"] = _nexthops(data, attrs[RTA_MULTIPATH], family, names)
        return route

    return parse


def _nexthops(data: bytes, span: tuple[int, int], family: int, names: dict[int, str]) -> list[dict[str, str | None]]:
    hops: list[dict[str, str | None]] = []
    offset, end = span
    while offset + _RTNEXTHOP.size <= end:
        length, _flags, _hops, ifindex = _RTNEXTHOP.unpack_from(data, offset)
        if length < _RTNEXTHOP.size:
            break
        attrs = _attributes(data, offset + _RTNEXTHOP.size, offset + length)
        gateway = _ip(data, attrs.get(RTA_GATEWAY), family) or _via(data, attrs.get(RTA_VIA))
        hops.append({"gateway": gateway, "dev": names.get(ifindex)})
        offset += (length + 3) & ~3
    return hops


def parse_rule(data: bytes) -> Rule | None:
    """One RTM_NEWRULE message, None for other families."""
    family, dst_len, src_len, _tos, table, _res1, _res2, action, _flags = _RTMSG.unpack_from(
        data, _NLMSG_HEADER.size
    )
    if family not in _FAMILIES:
        return None
    attrs = _attributes(data, _NLMSG_HEADER.size + _RTMSG.size, len(data))
    src = _ip(data, attrs.get(FRA_SRC), family)
    dst = _ip(data, attrs.get(FRA_DST), family)
    return {
        "priority": _u32(data, attrs.get(FRA_PRIORITY)) or 0,
        "from": _cidr(src, src_len, family) if src else None,
        "to": _cidr(dst, dst_len, family) if dst else None,
        "table": _u32(data, attrs.get(FRA_TABLE)) or table,
        "iif": _string(data, attrs.get(FRA_IIFNAME)),
        "oif": _string(data, attrs.get(FRA_OIFNAME)),
        "action": _RULE_ACTIONS.get(action, str(action)),
        "family": _FAMILIES[family],
        "fwmark": _u32(data, attrs.get(FRA_FWMARK)),
        "fwmask": _u32(data, attrs.get(FRA_FWMASK)),
    }


def link_from_ifinfmsg(msg: Any) -> Link:
    """The same Link read from pyroute2's decoded ifinfmsg (the reference for parse_link)."""
    kind = msg.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND")
    mac = msg.get_attr("IFLA_ADDRESS")
    return Link(
        ifindex=msg["index"],
        name=msg.get_attr("IFLA_IFNAME"),
        kind=_kind_of(kind, msg["ifi_type"], _tun_type(msg) if kind == "tun" else None),
        # Only Ethernet-like hardware addresses: tunnels report IPv4 bytes here.
        mac=mac if isinstance(mac, str) and len(mac) == 17 else None,
        mtu=msg.get_attr("IFLA_MTU"),
        state=msg.get_attr("IFLA_OPERSTATE"),
        admin_up=bool(msg["flags"] & IFF_UP),
        master_index=msg.get_attr("IFLA_MASTER") or None,
        link_index=msg.get_attr("IFLA_LINK") or None,
        link_nsid=msg.get_attr("IFLA_LINK_NETNSID"),
    )


def _tun_type(msg: Any) -> int | None:
    data = msg.get_nested("IFLA_LINKINFO", "IFLA_INFO_DATA")
    return data.get_attr("IFLA_TUN_TYPE") if data is not None else None


def _kind_of(kind: str | None, ifi_type: int, tun_type: int | None) -> str:
    if ifi_type == ARPHRD_LOOPBACK:
        return "loopback"
    if kind is None:
        # Kernel drivers of real NICs register no rtnl link kind.
        return "physical" if ifi_type == ARPHRD_ETHER else "other"
    if kind == "tun":
        # OVS's netdev datapath creates its internal ports as tap devices too;
        # collect.py refines those to "ovs-internal" from OVSDB.
        return "tun" if tun_type == 1 else "tap"
    if kind == "openvswitch":
        return "ovs-internal"
    return str(kind)


def _table(msg: Any, attr: str) -> int:
    # Tables above 255 only fit in the attribute, not in the header byte.
    table = msg.get_attr(attr)
    return int(table) if table is not None else int(msg["table"])


def _cidr(address: str | None, prefixlen: int, family: int) -> str:
    if address is None:
        return "0.0.0.0/0" if family == socket.AF_INET else "::/0"
    # Not normalised: DVR's `from 10.0.0.1/24 lookup <n>` keeps its host bits
    # in the kernel and the explainer quotes it as `ip rule` shows it.
    return f"{address}/{prefixlen}"


def route_from_rtmsg(msg: Any, names: dict[int, str]) -> Route:
    family = msg["family"]
    route: Route = {
        "dst": _cidr(msg.get_attr("RTA_DST"), msg["dst_len"], family),
        "gateway": msg.get_attr("RTA_GATEWAY"),
        "dev": names.get(msg.get_attr("RTA_OIF")),
        "table": _table(msg, "RTA_TABLE"),
        "src": msg.get_attr("RTA_PREFSRC"),
        "family": _FAMILIES[family],
        "type": _ROUTE_TYPES.get(msg["type"], str(msg["type"])),
        "scope": _ROUTE_SCOPES.get(msg["scope"], str(msg["scope"])),
        "proto": _ROUTE_PROTOS.get(msg["proto"], str(msg["proto"])),
        "metric": msg.get_attr("RTA_PRIORITY"),
    }
    multipath = msg.get_attr("RTA_MULTIPATH")
    if multipath:
        route["nexthops"] = [
            {"gateway": hop.get_attr("RTA_GATEWAY"), "dev": names.get(hop["oif"])} for hop in multipath
        ]
    return route


def rule_from_fibmsg(msg: Any) -> Rule:
    family = msg["family"]
    src = msg.get_attr("FRA_SRC")
    dst = msg.get_attr("FRA_DST")
    return {
        "priority": msg.get_attr("FRA_PRIORITY") or 0,
        "from": _cidr(src, msg["src_len"], family) if src else None,
        "to": _cidr(dst, msg["dst_len"], family) if dst else None,
        "table": _table(msg, "FRA_TABLE"),
        "iif": msg.get_attr("FRA_IIFNAME"),
        "oif": msg.get_attr("FRA_OIFNAME"),
        "action": _RULE_ACTIONS.get(msg["action"], str(msg["action"])),
        "family": _FAMILIES[family],
        "fwmark": msg.get_attr("FRA_FWMARK"),
        "fwmask": msg.get_attr("FRA_FWMASK"),
    }


# --- veth peers across namespaces -------------------------------------------


PeerKey = tuple[str | None, int]  # (namespace name or None for root, ifindex)
Peer = tuple[str, str | None]  # (peer name, peer namespace or None for root)
# verify(namespace, nsid, candidate): does the namespace id `nsid`, as seen
# in `namespace`, designate namespace `candidate`?
Verifier = Callable[[str, int, str], bool]


def resolve_veth_peers(
    root: NamespaceState,
    namespaces: list[NamespaceState],
    root_nsids: dict[int, str],
    verify: Verifier | None = None,
) -> dict[PeerKey, Peer]:
    """Name and namespace of every veth's peer.

    ``root_nsids`` maps the ids the root namespace gives to named namespaces
    (from :func:`query_nsid`); each named namespace knows the id it gives to
    the root (``root_nsid``). A peer in another *named* namespace cannot be
    named that way without O(n^2) queries, so it is matched by the pair of
    ifindexes (my link == its index and its link == my index); if several
    namespaces match, ``verify(ns_name, nsid, candidate_name) -> bool`` (an
    RTM_GETNSID query inside ``ns_name``) decides.
    """
    by_name = {ns.name: ns for ns in namespaces}
    peers: dict[PeerKey, Peer] = {}
    for state in [root, *namespaces]:
        for link in state.links:
            if link.kind != "veth" or link.link_index is None:
                continue
            peer = _peer_of(state, link, root, by_name, root_nsids, verify)
            if peer is not None:
                peers[(state.name, link.ifindex)] = peer
    return peers


def _peer_of(
    state: NamespaceState,
    link: Link,
    root: NamespaceState,
    by_name: dict[str | None, NamespaceState],
    root_nsids: dict[int, str],
    verify: Verifier | None,
) -> Peer | None:
    assert link.link_index is not None
    if link.link_nsid is None:  # the peer is in the same namespace
        other = state.by_index.get(link.link_index)
        return (other.name, None) if other else None
    if state.name is None:  # a root veth whose peer is in a named namespace
        ns_name = root_nsids.get(link.link_nsid)
        other_state = by_name.get(ns_name) if ns_name else None
        other = other_state.by_index.get(link.link_index) if other_state else None
        return (other.name, ns_name) if other and ns_name else None
    if link.link_nsid == state.root_nsid:  # a named namespace's veth whose peer is in the root
        other = root.by_index.get(link.link_index)
        return (other.name, None) if other else None
    return _peer_in_other_namespace(state, link, by_name, verify)


def _peer_in_other_namespace(
    state: NamespaceState, link: Link, by_name: dict[str | None, NamespaceState], verify: Verifier | None
) -> Peer | None:
    assert link.link_index is not None
    candidates: list[tuple[str, Link]] = []
    for name, other_state in by_name.items():
        if name is None or name == state.name:
            continue
        other = other_state.by_index.get(link.link_index)
        if other and other.kind == "veth" and other.link_index == link.ifindex and other.link_nsid is not None:
            candidates.append((name, other))
    if len(candidates) > 1 and verify is not None and state.name is not None and link.link_nsid is not None:
        nsid = link.link_nsid
        candidates = [(name, other) for name, other in candidates if verify(state.name, nsid, name)]
    if len(candidates) == 1:
        name, other = candidates[0]
        return (other.name, name)
    return None


def interfaces(state: NamespaceState, peers: dict[PeerKey, Peer]) -> list[Interface]:
    """The contract's interface objects for one namespace."""
    result: list[Interface] = []
    for link in state.links:
        master = state.by_index.get(link.master_index) if link.master_index else None
        peer = peers.get((state.name, link.ifindex))
        result.append(
            {
                "name": link.name,
                "kind": link.kind,
                "mac": link.mac,
                "mtu": link.mtu,
                "state": link.state,
                "addresses": state.addresses.get(link.ifindex, []),
                "master": master.name if master else None,
                "peer": peer[0] if peer else None,
                "peer_netns": peer[1] if peer else None,
                "ifindex": link.ifindex,
                "admin_up": link.admin_up,
            }
        )
    return result


def is_missing(exc: OSError) -> bool:
    """Errors meaning the namespace went away between listing and reading."""
    return exc.errno in (errno.ENOENT, errno.EINVAL, errno.EBADF)
