"""Where Neutron scheduled routers and DHCP servers, so that only those hosts' namespaces stand for them.

The collector (topology/collector.py) asks each scheduling agent what it hosts:
``GET /v2.0/agents/<id>/l3-routers`` for every L3 agent that is not in ``dvr``
mode, and ``GET /v2.0/agents/<id>/dhcp-networks`` for every DHCP agent (Neutron
has no list of all the bindings at once: one call per such agent, a few per
cloud; the ``dvr`` agents of compute hosts, the many, are not asked). From that:

- ``qrouter-<id>`` belongs on the hosts of the L3 agents hosting the router, and,
  for a distributed router, on every host with a DVR agent that has a port on
  one of the router's subnets (Neutron's "DVR serviceable" ports: VMs, DHCP);
- ``snat-<id>`` only on the hosts of the ``dvr_snat`` agents hosting it;
- ``fip-<network id>`` on hosts with an L3 agent in ``dvr`` or ``dvr_snat`` mode;
- ``qdhcp-<network id>`` on the hosts of the DHCP agents hosting the network.

A cloud snapshot without these lists (one collected before, or a project-scoped
one: the agents are admin-only) says nothing about scheduling: then every
namespace is joined as before.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from topology.kinds import DeviceOwner

JsonDict = dict[str, Any]
L3_SCHEDULE_KEY = "l3_agent_routers"  # [{"agent_id", "host", "agent_mode", "router_ids": [...]}]
DHCP_SCHEDULE_KEY = "dhcp_agent_networks"  # [{"agent_id", "host", "network_ids": [...]}]
# HA routers' instances (l3_ha): [{"router_id", "host", "ha_state": "active"|"standby"|"unknown"}]
L3_HA_STATES_KEY = "l3_ha_states"
DVR_MODES = frozenset({"dvr", "dvr_snat", "dvr_no_external"})
# the ports that put a distributed router on their host (neutron.common.utils.is_dvr_serviced)
DVR_SERVICED_OWNERS = (DeviceOwner.COMPUTE_PREFIX, DeviceOwner.DHCP, "network:loadbalancer", "trunk:")


@dataclass
class Schedule:
    """What Neutron scheduled where, from one cloud snapshot."""

    routers_on: dict[str, set[str]]  # router id -> hosts of the L3 agents hosting it
    snat_on: dict[str, set[str]]  # router id -> hosts of the dvr_snat agents hosting it
    networks_on: dict[str, set[str]]  # network id -> hosts of the DHCP agents hosting it
    dvr_hosts: set[str]  # hosts with an L3 agent in a DVR mode
    cloud: Mapping[str, list[JsonDict]]
    # HA router id -> host -> Neutron's ha_state of the L3 agent there (empty: no HA router, or not said)
    ha_states: dict[str, dict[str, str]] = field(default_factory=dict)
    # distributed router id -> hosts it lives on through its subnets' ports (made on first use)
    _dvr_router_hosts: dict[str, set[str]] | None = field(default=None, repr=False)

    def claim_problem(self, host: str, role: str, ref: str) -> str | None:
        """Why ``host`` may not have this namespace (role and id as topology.join.namespace_role says)."""
        if role == "qdhcp" and host not in self.networks_on.get(ref, ()):
            return f"Neutron's DHCP agents do not host network {ref} on {host}: this qdhcp- namespace is not joined"
        if role == "snat" and host not in self.snat_on.get(ref, ()):
            return f"router {ref} is not scheduled to a dvr_snat agent on {host}: this snat- namespace is not joined"
        if role == "fip" and host not in self.dvr_hosts:
            return f"{host} has no DVR L3 agent: this fip- namespace is not joined"
        if role == "qrouter" and host not in self.routers_on.get(ref, ()) and host not in self.dvr_router_hosts(ref):
            return f"router {ref} is not scheduled to {host}: this qrouter- namespace is not joined"
        return None

    def dvr_router_hosts(self, router_id: str) -> set[str]:
        if self._dvr_router_hosts is None:
            self._dvr_router_hosts = distributed_router_hosts(self.cloud, self.dvr_hosts)
        return self._dvr_router_hosts.get(router_id, set())


def schedule_of(cloud: Mapping[str, list[JsonDict]]) -> Schedule | None:
    """The schedule the snapshot holds, or None if it holds none (then nothing is checked)."""
    if L3_SCHEDULE_KEY not in cloud or DHCP_SCHEDULE_KEY not in cloud:
        return None
    routers_on: dict[str, set[str]] = defaultdict(set)
    snat_on: dict[str, set[str]] = defaultdict(set)
    networks_on: dict[str, set[str]] = defaultdict(set)
    for hosting in cloud[L3_SCHEDULE_KEY]:
        for router_id in hosting.get("router_ids") or ():
            routers_on[router_id].add(hosting["host"])
            if hosting.get("agent_mode") == "dvr_snat":
                snat_on[router_id].add(hosting["host"])
    for hosting in cloud[DHCP_SCHEDULE_KEY]:
        for network_id in hosting.get("network_ids") or ():
            networks_on[network_id].add(hosting["host"])
    dvr_hosts = {
        agent["host"]
        for agent in cloud.get("agents", [])
        if agent.get("agent_type") == "L3 agent" and (agent.get("configurations") or {}).get("agent_mode") in DVR_MODES
    }
    ha_states: dict[str, dict[str, str]] = defaultdict(dict)
    for instance in cloud.get(L3_HA_STATES_KEY) or ():
        ha_states[instance["router_id"]][instance["host"]] = instance.get("ha_state") or "unknown"
    return Schedule(routers_on, snat_on, networks_on, dvr_hosts, cloud, ha_states=dict(ha_states))


def distributed_router_hosts(cloud: Mapping[str, list[JsonDict]], dvr_hosts: set[str]) -> dict[str, set[str]]:
    """Each distributed router's hosts: DVR hosts with a serviced port on one of its subnets."""
    distributed = {r["id"] for r in cloud.get("routers", []) if r.get("distributed")}
    if not distributed:
        return {}
    routers_of_subnet: dict[str, set[str]] = defaultdict(set)
    hosts_of_subnet: dict[str, set[str]] = defaultdict(set)
    for port in cloud.get("ports", []):
        owner = port.get("device_owner") or ""
        subnets = [ip.get("subnet_id") for ip in port.get("fixed_ips") or ()]
        if port.get("device_id") in distributed and owner == DeviceOwner.ROUTER_INTERFACE_DISTRIBUTED:
            for subnet in subnets:
                routers_of_subnet[subnet].add(port["device_id"])
        host = port.get("binding:host_id")
        if host in dvr_hosts and owner.startswith(DVR_SERVICED_OWNERS):
            for subnet in subnets:
                hosts_of_subnet[subnet].add(host)
    hosts: dict[str, set[str]] = defaultdict(set)
    for subnet, routers in routers_of_subnet.items():
        for router in routers:
            hosts[router] |= hosts_of_subnet.get(subnet, set())
    return hosts
