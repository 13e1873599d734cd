"""Search of the graph by name, id (prefix), IP and MAC (pure), for the map when it holds only hosts.

An index is made once per part (or per scoped graph) and kept per revision by the caller
(topology/hostviews.py): one :class:`Entry` per node with its terms lowercased. A query matches
a term exactly (rank 0), as a prefix (rank 1: an id's, an IP's, a MAC's, a name's start) or, for a
name, anywhere (rank 2). Results name the node, its kind, label and host, and for a port the
physical node it binds (``focus``: what the physical map shows of it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from topology.kinds import EdgeKind, NodeKind

Node = dict[str, Any]
Edge = dict[str, Any]
MAX_RESULTS = 50
DEFAULT_RESULTS = 20
# a port is shown, in the physical view, by the device it binds: the VM side first
FOCUS_ORDER = ("tap", "qr-", "qg-", "ns-", "sg-", "fg-", "ha-", "qvo", "qvb")


@dataclass(frozen=True)
class Entry:
    id: str
    kind: str
    label: str
    host: str | None
    focus: str | None
    names: tuple[str, ...]  # matched anywhere
    keys: tuple[str, ...]  # ids, addresses, MACs: matched exactly or by prefix

    @property
    def text(self) -> str:
        return "\n".join(self.names + self.keys)

    def rank(self, query: str) -> int | None:
        if query in self.keys or query in self.names:
            return 0
        if any(k.startswith(query) for k in self.keys) or any(n.startswith(query) for n in self.names):
            return 1
        if any(query in n for n in self.names):
            return 2
        return None

    def result(self) -> dict[str, Any]:
        found: dict[str, Any] = {"id": self.id, "kind": self.kind, "label": self.label, "host": self.host}
        if self.focus is not None:
            found["focus"] = self.focus
        return found


def node_keys(node: Node) -> list[str]:
    attrs = node.get("attrs") or {}
    keys = [node["id"], node["id"].partition(":")[2]]
    for name in ("mac", "mac_address", "floating_ip_address", "fixed_ip_address", "cidr"):
        if attrs.get(name):
            keys.append(str(attrs[name]))
    for ip in attrs.get("fixed_ips") or ():
        if isinstance(ip, dict) and ip.get("ip_address"):
            keys.append(str(ip["ip_address"]))
    for address in attrs.get("addresses") or ():
        keys += [str(address), str(address).split("/")[0]]
    return [k.lower() for k in keys]


def focus_of(port_id: str, edges: Iterable[Edge], host_of: dict[str, str | None]) -> tuple[str | None, str | None]:
    """The physical node a port binds (by device role order) and its host."""
    bound = [e["target"] for e in edges if e["kind"] == EdgeKind.BINDS and e["source"] == port_id]
    if not bound:
        return None, None

    def order(node_id: str) -> int:
        name = node_id.rsplit(":", 1)[-1]
        return next((i for i, prefix in enumerate(FOCUS_ORDER) if name.startswith(prefix)), len(FOCUS_ORDER))

    best = min(bound, key=order)
    return best, host_of.get(best)


def build_index(nodes: Sequence[Node], edges: Sequence[Edge]) -> Index:
    host_of = {n["id"]: n.get("host") for n in nodes}
    binds: dict[str, list[Edge]] = {}
    for edge in edges:
        if edge["kind"] == EdgeKind.BINDS:
            binds.setdefault(edge["source"], []).append(edge)
    index: list[Entry] = []
    for node in nodes:
        focus, focus_host = (
            focus_of(node["id"], binds.get(node["id"], ()), host_of) if node["kind"] == NodeKind.PORT else (None, None)
        )
        names = {str(node.get("label") or "").lower(), str((node.get("attrs") or {}).get("name") or "").lower()}
        names.discard("")
        host = node.get("host") or focus_host
        index.append(
            Entry(
                node["id"],
                node["kind"],
                str(node.get("label") or ""),
                host,
                focus,
                tuple(names),
                tuple(node_keys(node)),
            )
        )
    return Index(tuple(index), "\n".join(entry.text for entry in index))


@dataclass(frozen=True)
class Index:
    """A part's entries, and all their terms as one text (a query absent from it matches none)."""

    entries: tuple[Entry, ...]
    text: str


def search(indexes: Iterable[Index], query: str, limit: int = DEFAULT_RESULTS) -> list[dict[str, Any]]:
    """The best ``limit`` entries for ``query`` (rank, then kind: a port or interface before what mentions it)."""
    q = query.strip().lower()
    if not q:
        return []
    kind_rank = {NodeKind.PORT: 0, NodeKind.IFACE: 1, NodeKind.FLOATINGIP: 2, NodeKind.SERVER: 3, NodeKind.HOST: 4}
    found: list[tuple[int, int, str, Entry]] = []
    for index in indexes:
        if q not in index.text:  # most parts hold nothing like it: one substring search each
            continue
        for entry in index.entries:
            if q not in entry.text:
                continue
            rank = entry.rank(q)
            if rank is not None:
                found.append((rank, kind_rank.get(entry.kind, 9), entry.id, entry))
    found.sort(key=lambda item: item[:3])
    return [item[3].result() for item in found[:limit]]
