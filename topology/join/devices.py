"""One host's devices and namespaces as nodes: interfaces, their Neutron prefix and status, namespaces."""

from __future__ import annotations

from topology import graph as g
from topology.join.ha import ha_attrs
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
        (NamespacePrefix.OVNMETA, "ovnmeta"),
        (NamespacePrefix.VM, "vm"),
    ):
        if name.startswith(prefix):
            return role, name[len(prefix) :]
    return "other", None


_IFACE_STATUS = {"UP": "ACTIVE", "UNKNOWN": "ACTIVE", "DOWN": "DOWN"}


def iface_status(state: str | None) -> str | None:
    """The node status of a device in this operstate (None: unknown, no status)."""
    return _IFACE_STATUS.get(state.upper()) if state else None


def add_iface(piece: HostPhysical, namespace: str | None, iface: JsonDict) -> str:
    """An interface node of ``namespace`` (None: the root namespace); returns its id."""
    name = iface["name"]
    node_id = g.iface_id(piece.host, namespace, name)
    prefix = device_prefix(name)
    role = DEVICE_ROLE[prefix] if prefix else None
    # a literal, not Graph.add_node: this is the join's hottest function (~70,000 calls on the
    # 1,000-host cloud) and add_node's keyword call cost 610 M instructions there (+12%, issue 14)
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
            "state": iface.get("state"),
            "addresses": iface.get("addresses") or [],
            "role": role,
        },
        "host": piece.host,
        "status": iface_status(iface.get("state")),
    }
    if node["status"] is None:
        del node["status"]
    if iface.get("peer_ifindex") is not None:  # a wire to another host (its report names the other end)
        node["attrs"]["ifindex"], node["attrs"]["peer_ifindex"] = iface.get("ifindex"), iface["peer_ifindex"]
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


def radvd_of(router_id: str, processes: object) -> JsonDict | None:
    """The radvd the L3 agent runs for ``router_id`` (its config, ``<ra_confs>/<router id>.radvd.conf``,
    names the router), from the namespace's reported processes; None when none runs."""
    for process in processes if isinstance(processes, list) else []:
        if not isinstance(process, dict) or process.get("name") != "radvd":
            continue
        argv = [a for a in process.get("argv") or [] if isinstance(a, str)]
        config = next((a for a in argv if router_id in a and a.endswith(".conf")), None)
        if config is None and any(router_id in a for a in argv):
            config = next(a for a in argv if router_id in a)
        if config is not None:
            return {"pid": process.get("pid"), "config": config}
    return None


def radvd_attrs(role: str, ref: str | None, namespace: JsonDict) -> JsonDict:
    """A qrouter namespace's ``radvd`` (IPv6 router advertisements for its subnets) when one runs there."""
    if role != "qrouter" or not ref:
        return {}
    found = radvd_of(ref, namespace.get("processes"))
    return {"radvd": found} if found is not None else {}


def add_namespace(piece: HostPhysical, namespace: JsonDict) -> list[str]:
    """A namespace and its interfaces; returns their node ids."""
    name = namespace["name"]
    host = piece.host
    role, ref = namespace_role(name)
    node_id = g.netns_id(host, name)
    piece.graph.add_node(
        node_id,
        NodeKind.NETNS,
        name,
        host=host,
        name=name,
        role=role,
        ref=ref,
        routes=namespace.get("routes") or [],
        rules=namespace.get("rules") or [],
        has_iptables=bool(namespace.get("iptables")),
        **radvd_attrs(role, ref, namespace),
        **ha_attrs(role, namespace),
    )
    piece.index.namespaces[name] = node_id
    piece.graph.add_edge(piece.host_node, node_id, EdgeKind.MEMBER)
    ids = []
    for iface in namespace.get("interfaces") or []:
        iface_node = add_iface(piece, name, iface)
        ids.append(iface_node)
        piece.graph.add_edge(node_id, iface_node, EdgeKind.MEMBER)
        if iface.get("peer"):
            piece.index.veth_peers[name].append(iface["peer"])
    return ids
