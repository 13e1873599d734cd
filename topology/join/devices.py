"""One host's devices and namespaces as nodes: interfaces, their Neutron prefix and status, namespaces."""

from __future__ import annotations

from topology import graph as g
from topology.join.parts import HostPhysical, JsonDict
from topology.kinds import (
    DEVICE_PREFIXES,
    DEVICE_ROLE,
    ROUTER_DEVICE_PREFIXES,
    EdgeKind,
    NamespacePrefix,
    NodeKind,
)

# a device prefix by its first 3 characters (rfp- and fpr- then need their "-")
_PREFIX_HEAD = {p[:3]: p for p in DEVICE_PREFIXES}


ROUTER_DEVICE_ROLES = frozenset(DEVICE_ROLE[p] for p in ROUTER_DEVICE_PREFIXES)  # rfp, fpr


def device_prefix(name: str) -> str | None:
    """The Neutron device prefix of an interface name (tap, qvo, qr-, rfp-, ...), if any."""
    prefix = _PREFIX_HEAD.get(name[:3])
    if prefix is None or len(name) <= len(prefix) or (len(prefix) == 4 and name[3] != "-"):
        return None
    return prefix


def namespace_role(name: str) -> tuple[str, str | None]:
    """The role of a namespace and the id it carries (router, network or VM name)."""
    for prefix, role in (
        (NamespacePrefix.QROUTER, "qrouter"),
        (NamespacePrefix.SNAT, "snat"),
        (NamespacePrefix.FIP, "fip"),
        (NamespacePrefix.QDHCP, "qdhcp"),
        (NamespacePrefix.VM, "vm"),
    ):
        if name.startswith(prefix):
            return role, name[len(prefix) :]
    return "other", None


_IFACE_STATUS = {"UP": "ACTIVE", "UNKNOWN": "ACTIVE", "DOWN": "DOWN"}


# the same for operstates as spelt, looked up before upper-casing one
_IFACE_STATUS_AS_SPELT: dict[str | None, str] = {
    spelt: status for state, status in _IFACE_STATUS.items() for spelt in (state, state.lower())
}


def iface_status(state: str | None) -> str | None:
    """The node status of a device in this operstate (None: unknown, no status)."""
    return _IFACE_STATUS_AS_SPELT.get(state) or _IFACE_STATUS.get(state.upper() if state else "")


def add_iface(piece: HostPhysical, namespace: str | None, iface: JsonDict, id_prefix: str) -> str:
    """An interface node; ``id_prefix``: its namespace's iface node id prefix (see g.iface_id)."""
    # The hottest function of the join (~70,000 calls on a 20,000-port cloud): lookups inlined.
    name = iface["name"]
    host = piece.host
    node_id = id_prefix + name
    prefix = _PREFIX_HEAD.get(name[:3])  # device_prefix(name), inlined
    if prefix is not None and (len(name) <= len(prefix) or (len(prefix) == 4 and name[3] != "-")):
        prefix = None
    role = DEVICE_ROLE[prefix] if prefix else None
    addresses = iface.get("addresses")
    if not addresses and addresses.__class__ is not list:
        addresses = []
    state = iface.get("state")
    # one literal with every key: a 6th key added to a 5-key dict would resize it
    node: g.Node = {
        "id": node_id,
        "kind": NodeKind.IFACE,
        "label": name,
        "attrs": {
            "namespace": namespace,
            "name": name,
            "if_kind": iface.get("kind"),
            "mac": iface.get("mac"),
            "mtu": iface.get("mtu"),
            "state": state,
            "addresses": addresses,  # the report's own list (a new one only if it has none)
            "role": role,
        },
        "host": host,
        "status": _IFACE_STATUS_AS_SPELT.get(state) or iface_status(state),
    }
    if node["status"] is None:
        del node["status"]
    piece.nodes[node_id] = node
    index = piece.index
    by_name = index.by_name
    if name not in by_name:
        by_name[name] = node_id
    if prefix:
        if role in ROUTER_DEVICE_ROLES:
            index.router_devices_by_fragment[name[len(prefix) :]].append(node_id)
            index.router_devices.add(node_id)
        else:
            index.by_id11[name[len(prefix) :]].append(node_id)
    return node_id


def drop_iface(piece: HostPhysical, node_id: str, name: str, linked: bool = True) -> None:
    """Forget an interface node that the map draws as something else (a bridge).

    ``linked``: an edge may point at it (the caller cannot tell that none does).
    """
    index = piece.index
    piece.maybe_dangling = piece.maybe_dangling or linked
    piece.nodes.pop(node_id, None)
    index.by_name.pop(name, None)
    prefix = device_prefix(name)
    if prefix:
        by_fragment = index.router_devices_by_fragment if node_id in index.router_devices else index.by_id11
        if node_id in by_fragment.get(name[len(prefix) :], []):
            by_fragment[name[len(prefix) :]].remove(node_id)


def add_namespace(piece: HostPhysical, namespace: JsonDict) -> list[str]:
    """A namespace and its interfaces; returns their node ids."""
    name = namespace["name"]
    host = piece.host
    role, ref = namespace_role(name)
    node_id = g.netns_id(host, name)
    iptables = namespace.get("iptables") or {}
    piece.nodes[node_id] = {
        "id": node_id,
        "kind": NodeKind.NETNS,
        "label": name,
        "attrs": {
            "name": name,
            "role": role,
            "ref": ref,
            "routes": namespace.get("routes") or [],
            "rules": namespace.get("rules") or [],
            "has_iptables": bool(iptables),
        },
        "host": host,
    }
    index, edges = piece.index, piece.edges
    index.namespaces[name] = node_id
    edges[(piece.host_node, node_id, EdgeKind.MEMBER)] = None
    ids = []
    id_prefix = f"iface:{host}:{name}:"
    for iface in namespace.get("interfaces") or []:
        iface_node = add_iface(piece, name, iface, id_prefix)
        ids.append(iface_node)
        edges[(node_id, iface_node, EdgeKind.MEMBER)] = None
        if iface.get("peer"):
            index.veth_peers[name].append(iface["peer"])
    return ids
