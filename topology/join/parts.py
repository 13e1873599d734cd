"""The data the parts of the join share: type aliases, a host's index and physical part, edge helpers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from topology import graph as g

JsonDict = dict[str, Any]


CloudSnapshot = Mapping[str, list[JsonDict]]


Nodes = dict[str, g.Node]


Edges = dict[g.EdgeKey, None]


# iface node id -> (the cached node it was copied from, port id, what, fixed IPs, the described copy)
Described = dict[str, tuple[g.Node, str, str, str, g.Node]]


@dataclass
class HostIndex:
    """Where things are on one host, to look up joins in O(1)."""

    host: str
    # device name -> the first iface node id carrying it (the root namespace's, if there)
    by_name: dict[str, str] = field(default_factory=dict)
    # id fragment after a port device's prefix (port id[:11]) -> iface node ids
    by_id11: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    # id fragment after rfp-/fpr- (router id[:10]) -> iface node ids
    router_devices_by_fragment: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    # OVS external_ids:iface-id -> iface node ids
    by_iface_id: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    namespaces: dict[str, str] = field(default_factory=dict)  # namespace name -> node id
    linux_bridges: dict[str, str] = field(default_factory=dict)  # bridge name -> node id
    tunnel_ifaces: list[tuple[str, str]] = field(default_factory=list)  # (iface node id, remote_ip)
    # remote_ip -> the first tunnel iface towards it (the way back for a peer's tunnel)
    tunnel_to: dict[str, str] = field(default_factory=dict)
    veth_peers: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # namespace -> peer names
    # root-namespace interfaces already drawn inside a bridge (the others hang off the host)
    on_bridge: set[str] = field(default_factory=set)
    # iface node ids of rfp-/fpr- devices: their name carries a router id, not a port id
    router_devices: set[str] = field(default_factory=set)
    # iface node ids that OVS says are patch ports (options:peer)
    patch_ports: set[str] = field(default_factory=set)


@dataclass
class HostPhysical:
    """One host's physical subgraph, made from its report alone (what a JoinCache keeps per host).

    Its edges touch only its own nodes and its host node: none dangles.
    """

    host: str
    nodes: Nodes
    edges: Edges
    index: HostIndex
    # while it is made: whether an edge may point at a node it dropped or never had (then checked)
    maybe_dangling: bool = False
    host_node: str = field(init=False)  # the host's node id
    graph: g.Graph = field(init=False, repr=False)  # the part's nodes and edges, to add to

    def __post_init__(self) -> None:
        self.host_node = g.host_id(self.host)
        self.graph = g.Graph(nodes=self.nodes, edges=self.edges)


def drop_dangling(nodes: Nodes, edges: Edges, also: str | None = None) -> None:
    """Edges to objects the input does not hold (e.g. a router the caller cannot list).

    ``also``: a node held elsewhere that edges may point at (a host part's host node).
    """
    held = nodes.keys() | {also} if also is not None else nodes.keys()
    for key in [key for key in edges if key[0] not in held or key[1] not in held]:
        del edges[key]


def add_link(edges: Edges, a: str, b: str, kind: str) -> None:
    """An undirected link (veth, patch, tunnel): stored once, source < target."""
    edges[(a, b, kind) if a <= b else (b, a, kind)] = None
