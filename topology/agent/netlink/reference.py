"""pyroute2's decoded messages as Links, Routes and Rules: the reference the fast parsers are held to."""

from __future__ import annotations

from typing import Any

from topology.agent.netlink.names import (
    _FAMILIES,
    _ROUTE_PROTOS,
    _ROUTE_SCOPES,
    _ROUTE_TYPES,
    _RULE_ACTIONS,
    IFF_UP,
    _cidr,
    _kind_of,
)
from topology.agent.netlink.state import Link
from topology.report import Route, Rule


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


def _table(msg: Any, attr: str) -> int:
    # Tables above 255 only fit in the attribute, not in the header byte.
    table = msg.get_attr(attr)
    return int(table) if table is not None else int(msg["table"])


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
