"""Veth peers resolved across namespaces, and the contract's interface objects of one namespace."""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

from topology.agent.netlink.state import Link, NamespaceState
from topology.report import Interface

# Aliases are evaluated at run time: Optional, not `X | None`, on Python 3.9.
PeerKey = tuple[Optional[str], int]  # (namespace name or None for root, ifindex)
Peer = tuple[str, Optional[str]]  # (peer name, peer namespace or None for root)
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
        item: Interface = {
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
        if link.kind == "veth" and peer is None and link.link_nsid is not None and link.link_index is not None:
            # its peer is in a namespace this host does not name (another host's, a container's): the peer's
            # ifindex there lets the join pair it with a wire of another host's report
            item["peer_ifindex"] = link.link_index
        result.append(item)
    return result
