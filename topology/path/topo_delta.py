"""A ``Topo`` moved on by a graph delta (pure, copy-on-write): the next revision's indexed graph without a
pass over the whole graph.

:func:`moved` returns a new Topo and leaves the one it is given as it was (requests of the old
revision may still be walking it): the top-level dicts are copied (a C-level copy, milliseconds on a
big cloud) and only the lists a delta touches are made anew. The result holds what
``Topo(graph_after_delta, reports)`` holds: the same nodes, the same ends in every edge list and
address index (a test holds it to that on the graph service's deltas). The order inside a list is
the earlier one with new entries appended, as the writer appends them to a part; a fresh build reads
the parts' order, which is that order for every list kept within one part.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterable

from topology import graph as g
from topology.kinds import NodeKind
from topology.path.model import JsonDict
from topology.path.topo import ROUTER_ADDRESS_OWNERS, Topo

IndexEntry = tuple[str, str, str]  # (index name, key, value): one entry a node puts in an address index


def index_entries(topo: Topo, node: JsonDict) -> list[IndexEntry]:
    """What ``Topo.index_node`` would add for ``node``, as entries (the external subnets aside)."""
    probe = copy.copy(topo)
    probe.fips_by_address, probe.external_subnets = {}, []
    probe.ports_by_ip, probe.routers_by_ip, probe.dhcp_by_ip = defaultdict(list), defaultdict(list), defaultdict(list)
    probe.index_node({**node, "kind": node["kind"] if node["kind"] != NodeKind.SUBNET else "-"})
    entries: list[IndexEntry] = [("fips_by_address", k, v) for k, v in probe.fips_by_address.items()]
    for name in ("ports_by_ip", "routers_by_ip", "dhcp_by_ip"):  # routers_by_ip: only whether it moved
        entries += [(name, k, v) for k, values in getattr(probe, name).items() for v in values]
    return entries


class Moving:
    """The copy being made: which dicts and lists are already this revision's own."""

    def __init__(self, old: Topo) -> None:
        self.topo = copy.copy(old)
        self.topo.nodes = dict(old.nodes)
        self.topo.out, self.topo.inn = dict(old.out), dict(old.inn)
        self.topo.fips_by_address = dict(old.fips_by_address)
        self.topo.ports_by_ip = defaultdict(list, old.ports_by_ip)
        self.topo.routers_by_ip = defaultdict(list, old.routers_by_ip)
        self.topo.dhcp_by_ip = defaultdict(list, old.dhcp_by_ip)
        self.own: set[tuple[str, object]] = set()  # (dict name, key) whose list is already a copy

    def ends(self, name: str, key: object) -> list[str]:
        table = getattr(self.topo, name)
        if (name, key) not in self.own or key not in table:  # (emptied and deleted since: a new list)
            self.own.add((name, key))
            table[key] = list(table.get(key, ()))
        ends: list[str] = table[key]
        return ends

    def drop_edge(self, source: str, target: str, kind: str) -> None:
        for name, key, end in (("out", (source, kind), target), ("inn", (target, kind), source)):
            table = getattr(self.topo, name)
            if key in table and end in table[key]:
                ends = self.ends(name, key)
                ends.remove(end)
                if not ends:
                    del table[key]

    def add_edge(self, source: str, target: str, kind: str) -> None:
        self.ends("out", (source, kind)).append(target)
        self.ends("inn", (target, kind)).append(source)

    def unindex(self, entries: Iterable[IndexEntry]) -> None:
        for name, key, value in entries:
            if name == "fips_by_address":
                if self.topo.fips_by_address.get(key) == value:
                    del self.topo.fips_by_address[key]
            elif value in getattr(self.topo, name).get(key, ()):
                values = self.ends(name, key)
                values.remove(value)
                if not values:
                    del getattr(self.topo, name)[key]

    def index(self, entries: Iterable[IndexEntry]) -> None:
        for name, key, value in entries:
            if name == "fips_by_address":
                self.topo.fips_by_address[key] = value
            else:
                self.ends(name, key).append(value)


def moves_subnets(nodes: Iterable[JsonDict | None]) -> bool:
    return any(n is not None and n["kind"] in (NodeKind.SUBNET, NodeKind.NETWORK) for n in nodes)


def moved(topo: Topo, deltas: Iterable[g.Delta]) -> Topo:
    """``topo`` with ``deltas`` applied in order (a new Topo; ``topo`` unchanged)."""
    moving = Moving(topo)
    rerouted = resubnetted = False  # routers' and external subnets' lists made again once, at the end
    for delta in deltas:
        moves = apply(moving, delta)
        rerouted, resubnetted = rerouted or moves[0], resubnetted or moves[1]
    if rerouted:
        moving.topo.routers_by_ip = routers_by_ip(moving.topo)
    if resubnetted:
        moving.topo.external_subnets = external_subnets(moving.topo)
    return moving.topo


def apply(moving: Moving, delta: g.Delta) -> tuple[bool, bool]:
    """One delta into the copy; whether it moved a router's address, and a subnet or a network."""
    nodes = moving.topo.nodes
    changed = [*delta["added"]["nodes"], *delta["changed"]["nodes"]]
    before = {i: nodes.get(i) for i in delta["removed"]["nodes"]}
    before.update((n["id"], nodes.get(n["id"])) for n in changed)
    was = {i: index_entries(moving.topo, old) if old is not None else [] for i, old in before.items()}
    for edge in delta["removed"]["edges"]:
        moving.drop_edge(edge["source"], edge["target"], edge["kind"])
    for node_id in delta["removed"]["nodes"]:
        nodes.pop(node_id, None)
    for node in changed:
        nodes[node["id"]] = node
    rerouted = False  # a router's address is held by the router and by its ports: its list is made again
    for node_id in before:
        new = nodes.get(node_id)
        now = index_entries(moving.topo, new) if new is not None else []
        if was[node_id] != now:  # an address moved: its old entries out, the new ones appended
            moving.unindex(e for e in was[node_id] if e[0] != "routers_by_ip")
            moving.index(e for e in now if e[0] != "routers_by_ip")
            rerouted = rerouted or any(e[0] == "routers_by_ip" for e in (*was[node_id], *now))
    for edge in delta["added"]["edges"]:
        moving.add_edge(edge["source"], edge["target"], edge["kind"])
    return rerouted, moves_subnets([*before.values(), *changed])


def routers_by_ip(topo: Topo) -> defaultdict[str, list[str]]:
    """The addresses routers hold, as ``Topo.index_node`` makes them (one router once per address, node order)."""
    probe = copy.copy(topo)
    probe.routers_by_ip = defaultdict(list)
    probe.fips_by_address, probe.external_subnets = {}, []
    probe.ports_by_ip, probe.dhcp_by_ip = defaultdict(list), defaultdict(list)
    for node in topo.nodes.values():
        owner = str(node["attrs"].get("device_owner") or "")
        if node["kind"] == NodeKind.ROUTER or (node["kind"] == NodeKind.PORT and owner in ROUTER_ADDRESS_OWNERS):
            probe.index_node(node)
    return probe.routers_by_ip


def external_subnets(topo: Topo) -> list[tuple[object, str]]:
    """The external networks' subnets, as ``Topo.index_node`` lists them (in node order)."""
    probe = copy.copy(topo)
    probe.external_subnets = []
    for node in topo.nodes.values():
        if node["kind"] == NodeKind.SUBNET and node["attrs"].get("cidr"):
            probe.index_node(node)
    return probe.external_subnets
