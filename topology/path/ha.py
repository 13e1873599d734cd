"""HA routers (Neutron's l3_ha, issue 15) in the walks: which of the router's qrouter- instances forwards.

An HA router has a qrouter- namespace on each of its L3 agents' hosts; keepalived (VRRP over the HA
network's ha- ports) makes one the master, which holds the router's addresses (the VIPs: its qg- and
qr- addresses). The join marks each instance (topology/join/ha.py) with ``ha_vips`` and ``ha_role``
(the host's word: the instance holding the VIPs) and Neutron's ``ha_state``. A walk goes through the
instance the data plane says is active, Neutron's ha_state being the cross-check: no instance holding
the VIPs (``ha_no_active``, fail) stops the walk; so do two holding them (``ha_split_brain``,
unknown: either may take the packet); Neutron disagreeing with the data plane is a warning
(``ha_state_mismatch``). Each hop at an instance names it active (or standby)
and where the other one is (:func:`name_instances`, called for every walk by topology/path/verdict.py).

The HA network's addresses (169.254.192.0/18, ``l3_ha_net_cidr``'s default) are keepalived's, on the
ha- ports: no destination (topology/path/special.py refuses them by address, :func:`refuse_ha_port` by
the port's id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from topology import graph as g
from topology.join.ha import ACTIVE
from topology.kinds import DeviceOwner, EdgeKind, NodeKind
from topology.path.model import PathError, Problem
from topology.path.special import HA_NETWORK_REASON
from topology.path.topo import Topo, router_label
from topology.path.walk import Walk


@dataclass(frozen=True)
class Instance:
    """One qrouter- namespace of an HA router, as the join marked it."""

    node: str
    host: str
    role: str | None  # the data plane's word: active when it holds the VIPs
    ha_state: str | None  # Neutron's word (None: the snapshot has none for this agent)
    vips: tuple[str, ...]


def instances(topo: Topo, namespaces: Sequence[str]) -> list[Instance]:
    """The HA instances among ``namespaces`` (empty when none is marked: not an HA router's)."""
    found = []
    for ns in namespaces:
        attrs = topo.attrs(ns)
        if "ha_role" not in attrs and "ha_state" not in attrs:
            continue
        found.append(
            Instance(
                ns,
                str(topo.nodes[ns].get("host")),
                attrs.get("ha_role"),
                attrs.get("ha_state"),
                tuple(attrs.get("ha_vips") or ()),
            )
        )
    return found


def is_ha(topo: Topo, router: str, namespaces: Sequence[str]) -> bool:
    return bool(topo.attrs(router).get("ha")) or bool(instances(topo, namespaces))


def active_ones(found: Sequence[Instance]) -> list[Instance]:
    """The instances that forward: those holding the VIPs; with no host's word at all, Neutron's active one."""
    if any(i.role is not None for i in found):
        return [i for i in found if i.role == ACTIVE]
    return [i for i in found if i.ha_state == ACTIVE]


def hosts_text(found: Sequence[Instance]) -> str:
    return ", ".join(f"{i.host} ({i.role or 'unknown'}; Neutron: {i.ha_state or 'no ha_state'})" for i in found)


def choose(walk: Walk, router: str, namespaces: Sequence[str]) -> str | None:
    """The namespace of the HA router's active instance; None (the walk stops) when none or two are active.

    Two active (split brain): both answer for the router's addresses with the same MACs, and which one
    takes a packet is where the bridges last learned those MACs, which the reports do not say (on the lab
    a VM on controller went out by compute2's instance): ``unknown``, not a path the walk can name."""
    topo = walk.topo
    found = instances(topo, namespaces)
    if not found:
        return namespaces[0] if namespaces else None
    name = router_label(topo, router)
    active = active_ones(found)
    if len(active) == 1:
        mismatch(walk, router, found, active[0])
        return active[0].node
    hop = walk.hop(router, f"router {name} is an HA router: which of its instances is active?")
    if not active:
        walk.fail(
            hop,
            Problem.HA_NO_ACTIVE,
            f"no instance of HA router {name} holds its addresses (the VIPs on qg-/qr-): keepalived is VRRP "
            f"master on none of {hosts_text(found)}, so nothing answers for the router; check keepalived "
            "in each qrouter- (ha_confs/<router id>) and restart the L3 agents' keepalived",
        )
        return None
    message = (
        f"{len(active)} instances of HA router {name} hold its VIPs ({hosts_text(active)}): keepalived is VRRP "
        "master on each (split brain: their VRRP advertisements, IP protocol 112 on the HA network's ha- "
        "ports, do not reach each other). Both answer for the same addresses and MACs: which one takes a "
        "packet depends on where the bridges last learned those MACs, so the path is not known, and a "
        "connection breaks when its reply lands on the other instance (no conntrack or NAT state of it "
        "there); check the HA network between the hosts (the tunnel, a filter dropping VRRP)"
    )
    hop.status = "unknown"
    hop.evidence = message
    walk.problem(Problem.HA_SPLIT_BRAIN, message, router, severity="unknown")
    return None


def mismatch(walk: Walk, router: str, found: Sequence[Instance], active: Instance) -> None:
    """Neutron's ha_state against the data plane's: a warning where they disagree (the walk follows the VIPs)."""
    wrong = [
        i
        for i in found
        if i.ha_state is not None and i.role is not None and (i.ha_state == ACTIVE) != (i.role == ACTIVE)
    ]
    if not wrong:
        return
    said = ", ".join(f"{i.ha_state} on {i.host}" for i in wrong)
    walk.problem(
        Problem.HA_STATE_MISMATCH,
        f"Neutron says HA router {router_label(walk.topo, router)} is {said}, but the instance holding its "
        f"VIPs is the one on {active.host}: the walk follows the VIPs (Neutron's ha_state lags a failover by "
        "a few seconds; if it stays, check neutron-keepalived-state-change and the L3 agent there)",
        active.node,
        severity="warn",
    )


def describe(topo: Topo, ns: str) -> str | None:
    """What a hop at an HA instance says of it: active on this host, standby on the others."""
    attrs = topo.attrs(ns)
    if "ha_role" not in attrs:
        return None
    host = topo.nodes[ns].get("host")
    router = next((r for r in topo.sources(ns, EdgeKind.BINDS) if g.id_kind(r) == NodeKind.ROUTER), None)
    siblings = [n for n in topo.targets(router, EdgeKind.BINDS) if n != ns] if router else []
    others = instances(topo, siblings)
    role = attrs.get("ha_role")
    other_text = "; ".join(f"{i.role or 'unknown'} on {i.host}" for i in others)
    vips = ", ".join(attrs.get("ha_vips") or []) or "none of its VIPs"
    return f"HA: the {role} instance on {host}{f' ({other_text})' if other_text else ''}, holding {vips}"


def name_instances(walk: Walk) -> None:
    """The first hop at each HA instance says which instance it is (and where the other is)."""
    seen: set[str] = set()
    for hop in walk.hops:
        if hop.node in seen or hop.node not in walk.topo.nodes:
            continue
        text = describe(walk.topo, hop.node)
        if text is not None:
            seen.add(hop.node)
            hop.what = f"{hop.what} [{text}]"


def refuse_ha_port(topo: Topo, port: str) -> None:
    """An HA router's ha- port (on the HA network), named by id: keepalived's VRRP end, never a packet's end."""
    attrs = topo.attrs(port)
    if attrs.get("device_owner") != DeviceOwner.ROUTER_HA_INTERFACE:
        return
    router = topo.nodes.get(g.router_id(str(attrs.get("device_id") or "")), {}).get("label") or "?"
    raise PathError(
        f"port {g.id_key(port)} (router {router}'s instance on {attrs.get('binding_host_id') or '?'}) "
        f"{HA_NETWORK_REASON}"
    )
