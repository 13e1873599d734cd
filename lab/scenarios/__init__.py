"""Scenarios: topologies the lab builds on its running cloud, one module each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lab.scenarios import allinone, dualstack, dvr, ha, netnode, overlap, vlan

# name -> build function returning the scenario's part of state.json
SCENARIOS: dict[str, Callable[[], dict[str, Any]]] = {
    "allinone": allinone.build,
    "dvr": dvr.build,
    "overlap": overlap.build,
    "netnode": netnode.build,
    "dualstack": dualstack.build,
    "ha": ha.build,
    "vlan": vlan.build,
}

# How the agents are laid out on the hosts (lab/neutron.py, lab/hosts.py):
#   legacy   one host, every agent on it, legacy routers
#   dvr      host 1 dvr_snat, compute2 dvr (distributed routers)
#   netnode  host 1 the compute node (OVS agent only), compute2 the network node (legacy L3 and DHCP)
#   ha       both hosts' L3 agents legacy, the server's routers HA (keepalived: one active, one standby)
#   vlan     host 1 every agent (legacy L3), compute2 its OVS agent; project networks VLANs of physnet1 on
#            each host's br-vlan, the two joined by a veth wire
LEGACY, DVR, NETNODE, HA, VLAN = "legacy", "dvr", "netnode", "ha", "vlan"
HOST_MODES: dict[str, str] = {"dvr": DVR, "netnode": NETNODE, "ha": HA, "vlan": VLAN}


def host_mode(scenario: str) -> str:
    return HOST_MODES.get(scenario, LEGACY)


def needs_dvr(scenario: str) -> bool:
    return host_mode(scenario) == DVR


def needs_compute2(scenario: str) -> bool:
    """Whether the scenario runs the second host (dvr: a compute node; netnode: the network node; ha: the
    second host of the HA routers; vlan: the second host on the VLAN wire)."""
    return host_mode(scenario) != LEGACY
