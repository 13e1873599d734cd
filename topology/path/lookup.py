"""The kernel's policy routing, replayed on a reported namespace: ``ip rule`` in priority order, each
matching rule's table, the most specific route of that table covering the destination.

One lookup for both families (routed6 and DVR's SNAT redirect use it). A namespace that reported no rules
of the family is looked up in its main table alone, as a namespace without policy routing does.
"""

from __future__ import annotations

import ipaddress

from topology.path.family import family
from topology.path.model import JsonDict
from topology.path.topo import Topo

MAIN_TABLE, LOCAL_TABLE = 254, 255  # the kernel's tables (ip rule's "main", "local")
MAIN_PRIORITY = 32766
ANY = {4: "0.0.0.0/0", 6: "::/0"}


def route_family(route: JsonDict) -> int:
    """A route's family: as reported, else by its destination or gateway (``default`` names both)."""
    if route.get("family"):
        return int(route["family"])
    return 6 if ":" in str(route.get("dst")) or ":" in str(route.get("gateway") or "") else 4


def routes_of(topo: Topo, namespace: str, version: int) -> list[JsonDict]:
    return [r for r in topo.attrs(namespace).get("routes", []) if route_family(r) == version]


def route_to(topo: Topo, namespace: str, address: str, table: int = MAIN_TABLE) -> JsonDict | None:
    """The most specific route of the namespace's ``table`` (main unless told) that covers ``address``."""
    target = ipaddress.ip_address(address)
    best: tuple[int, JsonDict] | None = None
    for route in routes_of(topo, namespace, target.version):
        if (route.get("table") or MAIN_TABLE) != table:
            continue
        try:
            network = ipaddress.ip_network(str(route.get("dst")).replace("default", ANY[target.version]), strict=False)
        except ValueError:
            continue
        if target in network and (best is None or network.prefixlen > best[0]):
            best = (network.prefixlen, route)
    return best[1] if best else None


def lookup(
    topo: Topo, namespace: str, src: str | None, dst: str, iif: str | None = None
) -> tuple[JsonDict | None, JsonDict | None]:
    """(rule, route) of the kernel's lookup of ``dst`` (from ``src``, in on ``iif``) in ``namespace``, or
    (None, None) when no matching rule's table has a route to it."""
    version = family(dst) or 4
    reported = topo.attrs(namespace).get("rules", [])
    rules = sorted(
        (r for r in reported if r.get("family") == version and r.get("action") == "lookup"),
        key=lambda r: int(r.get("priority") or 0),
    ) or [{"priority": MAIN_PRIORITY, "table": MAIN_TABLE, "action": "lookup", "family": version}]
    for rule in rules:
        table = int(rule.get("table") or MAIN_TABLE)
        if table == LOCAL_TABLE or not covers(rule.get("from"), src) or not covers(rule.get("to"), dst):
            continue
        if rule.get("iif") and rule.get("iif") != iif:
            continue
        route = route_to(topo, namespace, dst, table)
        if route is not None:
            return rule, route
    return None, None


def covers(prefix: str | None, address: str | None) -> bool:
    """A rule's from/to selector matches ``address`` (no selector matches every packet)."""
    if not prefix or prefix in ("all", *ANY.values()):
        return True
    if not address:
        return False
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(prefix, strict=False)
    except ValueError:
        return False


def describe_route(route: JsonDict) -> str:
    via = f" via {route['gateway']}" if route.get("gateway") else ""
    ip = "ip -6 route" if route_family(route) == 6 else "ip route"
    return f"{ip}: {route.get('dst')}{via} dev {route.get('dev')}"


def describe_lookup(rule: JsonDict, route: JsonDict) -> str:
    """``ip rule: from X lookup T; ip route: ...`` (the rule only when it is not the main table's)."""
    table = int(rule.get("table") or MAIN_TABLE)
    routed = describe_route(route) + (f" table {table}" if table != MAIN_TABLE else "")
    if table == MAIN_TABLE:
        return routed
    ip = "ip -6 rule" if route_family(route) == 6 else "ip rule"
    return f"{ip}: {rule.get('priority')}: from {rule.get('from') or 'all'} lookup {table}; {routed}"
