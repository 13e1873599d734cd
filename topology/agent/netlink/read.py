"""One namespace's four dumps (links, addresses, routes, rules) read over its socket into a NamespaceState."""

from __future__ import annotations

import socket

from pyroute2.netlink.rtnl.fibmsg import fibmsg
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.rtmsg import rtmsg

from topology.agent.netlink.names import _FAMILIES, RT_TABLE_LOCAL
from topology.agent.netlink.parse import parse_address, parse_link, parse_rule, route_parser
from topology.agent.netlink.protocol import (
    _IFADDR_BODY,
    _IFINFO_BODY,
    _RTMSG_BODY,
    RTM_GETADDR,
    RTM_GETLINK,
    RTM_GETROUTE,
    RTM_GETRULE,
    _Requester,
    decoded,
)
from topology.agent.netlink.reference import _table, link_from_ifinfmsg, route_from_rtmsg, rule_from_fibmsg
from topology.agent.netlink.state import NamespaceState


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
