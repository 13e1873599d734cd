"""HA routers' instances (Neutron's l3_ha): which qrouter- is the active one, from both sides.

An HA router has a qrouter- namespace on each of its L3 agents' hosts, each with an ``ha-`` port;
keepalived (VRRP) makes one the master, which holds the router's addresses (the VIPs) on its ``qg-``
and ``qr-`` devices, and Neutron reports each agent's ``ha_state`` (active/standby). The host's report
says which instance holds the VIPs (``ha_vips``, made with the host's part: topology/join/devices.py);
the snapshot says what Neutron believes (topology/scheduling.py ``ha_states``). The join marks each
instance with both and its ``ha_role`` (the host's word: the instance holding the VIPs is the one that
forwards), and warns where they disagree.
"""

from __future__ import annotations

import ipaddress

from topology import graph as g
from topology.join.parts import JsonDict
from topology.scheduling import Schedule

ACTIVE, STANDBY = "active", "standby"
VIP_DEVICES = ("qg-", "qr-")


def is_ha_instance(namespace: JsonDict) -> bool:
    """A qrouter namespace with an ``ha-`` port: an HA router's instance."""
    return any(str(i.get("name") or "").startswith("ha-") for i in namespace.get("interfaces") or [])


def vips(namespace: JsonDict) -> list[str]:
    """The router's addresses the instance holds: on its qg-/qr- devices, link-local ones left out."""
    found = []
    for iface in namespace.get("interfaces") or []:
        if not str(iface.get("name") or "").startswith(VIP_DEVICES):
            continue
        for address in iface.get("addresses") or []:
            try:
                link_local = ipaddress.ip_interface(address).ip.is_link_local
            except ValueError:
                continue
            if not link_local:
                found.append(address)
    return sorted(found)


def ha_attrs(role: str, namespace: JsonDict) -> JsonDict:
    """The host's side of an HA router's instance (none for any other namespace)."""
    if role != "qrouter" or not is_ha_instance(namespace):
        return {}
    return {"ha_vips": vips(namespace)}


def disagreement(router_id: str, host: str, neutron_state: str | None, holds: list[str]) -> str | None:
    """What is wrong when Neutron's ha_state and the VIPs the host's instance holds disagree."""
    if neutron_state == ACTIVE and not holds:
        return (
            f"Neutron says router {router_id} is active on {host}, but this qrouter- holds none of its "
            "qg-/qr- addresses: keepalived is not the VRRP master here"
        )
    if neutron_state == STANDBY and holds:
        return (
            f"Neutron says router {router_id} is standby on {host}, but this qrouter- holds "
            f"{', '.join(holds)}: keepalived is master here too (two active instances?)"
        )
    return None


def mark_instance(graph: g.Graph, ns_node: str, router_id: str, host: str, schedule: Schedule | None) -> None:
    """Mark a bound qrouter- of an HA router: Neutron's ha_state, the host's ha_role, a disagreement."""
    attrs = graph.nodes[ns_node]["attrs"]
    states = schedule.ha_states.get(router_id, {}) if schedule is not None else {}
    if "ha_vips" not in attrs and not states:
        return
    holds = list(attrs.get("ha_vips") or [])
    neutron_state = states.get(host)
    node = graph.writable(ns_node)["attrs"]
    node["ha_state"] = neutron_state
    node["ha_role"] = ACTIVE if holds else STANDBY
    problem = disagreement(router_id, host, neutron_state, holds)
    if problem is not None:
        graph.warn(ns_node, problem)
