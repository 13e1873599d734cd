"""Netlink's numbers as `ip` names them: route types, protocols, scopes, rule actions, families, link kinds."""

from __future__ import annotations

import socket

RT_TABLE_LOCAL = 255
ARPHRD_ETHER = 1
ARPHRD_LOOPBACK = 772
IFF_UP = 0x1


_ROUTE_TYPES = {
    1: "unicast",
    2: "local",
    3: "broadcast",
    4: "anycast",
    5: "multicast",
    6: "blackhole",
    7: "unreachable",
    8: "prohibit",
    9: "throw",
    10: "nat",
}
_ROUTE_PROTOS = {0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static", 9: "ra", 16: "dhcp"}
_ROUTE_SCOPES = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}
_RULE_ACTIONS = {1: "lookup", 2: "goto", 3: "nop", 6: "blackhole", 7: "unreachable", 8: "prohibit"}
_FAMILIES = {socket.AF_INET: 4, socket.AF_INET6: 6}


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


def _cidr(address: str | None, prefixlen: int, family: int) -> str:
    if address is None:
        return "0.0.0.0/0" if family == socket.AF_INET else "::/0"
    # Not normalised: DVR's `from 10.0.0.1/24 lookup <n>` keeps its host bits
    # in the kernel and the explainer quotes it as `ip rule` shows it.
    return f"{address}/{prefixlen}"
