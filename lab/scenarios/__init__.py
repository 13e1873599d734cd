"""Scenarios: topologies the lab builds on its running cloud, one module each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lab.scenarios import allinone, dualstack, dvr, ha, netnode, overlap

# name -> build function returning the scenario's part of state.json
SCENARIOS: dict[str, Callable[[], dict[str, Any]]] = {
    "allinone": allinone.build,
    "dvr": dvr.build,
    "overlap": overlap.build,
    "netnode": netnode.build,
    "dualstack": dualstack.build,
    "ha": ha.build,
}

# How the agents are laid out on the hosts (lab/neutron.py, lab/hosts.py):
#   legacy   one host, every agent on it, legacy routers
#   dvr      host 1 dvr_snat, compute2 dvr (distributed routers)
#   netnode  host 1 the compute node (OVS agent only), compute2 the network node (legacy L3 and DHCP)
#   ha       both hosts' L3 agents legacy, the server's routers HA (keepalived: one active, one standby)
LEGACY, DVR, NETNODE, HA = "legacy", "dvr", "netnode", "ha"
HOST_MODES: dict[str, str] = {"dvr": DVR, "netnode": NETNODE, "ha": HA}


def host_mode(scenario: str) -> str:
    return HOST_MODES.get(scenario, LEGACY)


def needs_dvr(scenario: str) -> bool:
    return host_mode(scenario) == DVR


def needs_compute2(scenario: str) -> bool:
    """Whether the scenario runs the second host (dvr: a compute node; netnode: the network node; ha: the
    second host of the HA routers)."""
    return host_mode(scenario) != LEGACY
