"""The cloud collector: one paginated list call per resource type per refresh.

Results are Neutron's own JSON (field names as the API sends them), which is
what the join reads. Every HTTP request is counted, so "calls per refresh"
is a measured figure, not a promise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import openstack.connection
from openstack import exceptions as sdk_exceptions

from topology.join.segment_ranges import SNAPSHOT_KEY as SEGMENT_RANGES_KEY
from topology.kinds import OVN_SNAPSHOT_KEY
from topology.ovn.collect import OvnRemotes, collect_ovn
from topology.scheduling import DHCP_SCHEDULE_KEY, L3_HA_STATES_KEY, L3_SCHEDULE_KEY

JsonDict = dict[str, Any]

# (snapshot key, API path, JSON collection key)
NETWORK_RESOURCES: tuple[tuple[str, str, str], ...] = (
    ("networks", "/networks", "networks"),
    ("subnets", "/subnets", "subnets"),
    ("ports", "/ports", "ports"),
    ("routers", "/routers", "routers"),
    ("floatingips", "/floatingips", "floatingips"),
    ("security_groups", "/security-groups", "security_groups"),
    ("security_group_rules", "/security-group-rules", "security_group_rules"),
    ("agents", "/agents", "agents"),
)


@dataclass
class RequestCounter:
    """Counts the HTTP requests a connection makes (a requests response hook)."""

    count: int = 0

    def __call__(self, response: Any, *args: Any, **kwargs: Any) -> None:
        self.count += 1


@dataclass(frozen=True)
class Collected:
    data: dict[str, Any]  # Neutron's lists by resource; ``ovn`` (a dict) on an OVN cloud
    api_calls: int
    duration: float


def count_requests(conn: openstack.connection.Connection) -> RequestCounter:
    counter = RequestCounter()
    conn.session.session.hooks.setdefault("response", []).append(counter)
    return counter


def list_all(proxy: Any, path: str, key: str, params: dict[str, Any] | None = None) -> list[JsonDict]:
    """GET a collection, following Neutron's ``<key>_links`` "next" pages if the server paginates."""
    items: list[JsonDict] = []
    query = dict(params or {})
    while True:
        response = proxy.get(path, params=query, raise_exc=False)
        sdk_exceptions.raise_from_response(response)
        body = response.json()
        items.extend(body.get(key, []))
        next_link = next((link["href"] for link in body.get(f"{key}_links", []) if link.get("rel") == "next"), None)
        if not next_link:
            return items
        query = {k: v[-1] for k, v in parse_qs(urlsplit(next_link).query).items()}


def collect_cloud(conn: openstack.connection.Connection, ovn: OvnRemotes | None = None) -> Collected:
    """Snapshot the cloud's networking state (and servers when a compute API exists).

    With ``ovn`` configured, OVN's NB and SB too, under ``ovn`` (topology/ovn/collect.py): a
    database that cannot be reached is an error there, the rest of the snapshot stands.
    """
    counter = count_requests(conn)
    started = time.monotonic()
    data: dict[str, Any] = {}
    for name, path, key in NETWORK_RESOURCES:
        try:
            data[name] = list_all(conn.network, path, key)
        except sdk_exceptions.ForbiddenException:
            data[name] = []  # agents are admin-only: a tenant's cloud shows no hosts
    data[SEGMENT_RANGES_KEY] = collect_vlan_ranges(conn.network)
    data.update(collect_scheduling(conn.network, data["agents"]))
    data["servers"] = collect_servers(conn)
    if ovn is not None and ovn.configured:
        data[OVN_SNAPSHOT_KEY] = collect_ovn(ovn)
    return Collected(data=data, api_calls=counter.count, duration=time.monotonic() - started)


def collect_vlan_ranges(proxy: Any) -> list[JsonDict]:
    """The VLAN ranges with their ``available`` and ``used`` ids (topology/join/segment_ranges.py): one call.

    Only where Neutron runs the network_segment_range service plugin (404 otherwise), and for an admin
    (a member gets 403 or an empty list): then none, and nothing is said of how full a range is.
    VLAN ranges only: a VXLAN range lists its thousands of available ids.
    """
    try:
        return list_all(proxy, "/network-segment-ranges", "network_segment_ranges", {"network_type": "vlan"})
    except (sdk_exceptions.ForbiddenException, sdk_exceptions.NotFoundException):
        return []


def collect_scheduling(proxy: Any, agents: list[JsonDict]) -> dict[str, list[JsonDict]]:
    """Which routers each L3 agent hosts and which networks each DHCP agent hosts (topology/scheduling.py).

    Neutron lists these per agent only: one call per DHCP agent and per L3 agent not in
    ``dvr`` mode (compute hosts' DVR agents, the many, host routers through their ports); and one per
    HA router for its agents' ``ha_state`` (active/standby: the per-agent lists do not say it).
    Without the agents (a project-scoped caller) the snapshot says nothing about scheduling.
    """
    if not agents:
        return {}
    l3: list[JsonDict] = []
    dhcp: list[JsonDict] = []
    ha_routers: set[str] = set()
    try:
        for agent in agents:
            mode = (agent.get("configurations") or {}).get("agent_mode")
            if agent.get("agent_type") == "L3 agent" and mode != "dvr":
                routers = list_all(proxy, f"/agents/{agent['id']}/l3-routers", "routers")
                l3.append(
                    {
                        "agent_id": agent["id"],
                        "host": agent["host"],
                        "agent_mode": mode or "legacy",
                        "router_ids": [r["id"] for r in routers],
                    }
                )
                ha_routers.update(r["id"] for r in routers if r.get("ha"))
            elif agent.get("agent_type") == "DHCP agent":
                networks = list_all(proxy, f"/agents/{agent['id']}/dhcp-networks", "networks")
                dhcp.append(
                    {"agent_id": agent["id"], "host": agent["host"], "network_ids": [n["id"] for n in networks]}
                )
        ha_states = [
            {"router_id": router_id, "host": agent["host"], "ha_state": agent.get("ha_state")}
            for router_id in sorted(ha_routers)
            for agent in list_all(proxy, f"/routers/{router_id}/l3-agents", "agents")
        ]
    except sdk_exceptions.ForbiddenException:
        return {}  # the scheduler extensions are admin-only by policy
    return {L3_SCHEDULE_KEY: l3, DHCP_SCHEDULE_KEY: dhcp, L3_HA_STATES_KEY: ha_states}


def collect_servers(conn: openstack.connection.Connection) -> list[JsonDict]:
    if not conn.has_service("compute"):
        return []  # no Nova (the lab): the join derives instances from ports' device_id
    try:
        return list_all(conn.compute, "/servers/detail", "servers", {"all_tenants": 1})
    except sdk_exceptions.ForbiddenException:
        return list_all(conn.compute, "/servers/detail", "servers")
