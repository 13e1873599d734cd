"""Which objects a Neutron notification names (pure: event type and payload in, lookups out).

Event types and payloads are Neutron 29's (neutron/pecan_wsgi/hooks/notifier.py):
``<resource>.create.end`` / ``.update.end`` carry the API's response body
(``{"port": {...}}``, a bulk create ``{"ports": [...]}``); ``.delete.end`` carries
``{"port_id": id, "port": <the object before>}``; ``router.interface.create``/``delete``
(neutron/db/l3_db.py) ``{"router_interface": {"id": router, "port_id", "subnet_id", ...}}``;
``l3_agent.router.add``/``dhcp_agent.network.add`` (the schedulers' extensions)
``{"agent": {"id", "router_id"}}``. ``.start`` events come before the change: nothing to read.

A :class:`Lookup` is one list call's filter on a snapshot collection (topology/collector.py):
``("ports", "id", X)`` re-reads port X (an empty answer: it is gone), ``("ports", "device_id", R)``
every port of router R (its gateway and interfaces, made and removed by Neutron itself).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

JsonDict = dict[str, Any]

# Neutron's resource name in an event type -> the snapshot's collection (topology/collector.py).
COLLECTIONS: Mapping[str, str] = {
    "network": "networks",
    "subnet": "subnets",
    "port": "ports",
    "router": "routers",
    "floatingip": "floatingips",
    "security_group": "security_groups",
    "security_group_rule": "security_group_rules",
    "agent": "agents",
}
ACTIONS = ("create", "update", "delete")
# Known and carrying nothing the snapshot holds: dropped without a word.
IGNORED_PREFIXES = ("tag.", "l3.meter", "metering.")
IGNORED_SUFFIXES = (".start", ".exists")
SCHEDULER_EVENTS = frozenset(
    {
        "l3_agent.router.add",
        "l3_agent.router.remove",
        "l3_agent.router.update",
        "dhcp_agent.network.add",
        "dhcp_agent.network.remove",
    }
)


class BadEvent(ValueError):
    """A notification that cannot be read (not the oslo envelope, a payload without ids)."""


class UnknownEvent(BadEvent):
    """A notification of a type this module does not know."""


@dataclass(frozen=True, order=True)
class Lookup:
    """Re-read the objects of ``collection`` whose ``field`` is ``value`` (a list call's filter)."""

    collection: str
    field: str
    value: str


@dataclass(frozen=True)
class Plan:
    """What to re-read: objects by filter, and whether the agents' scheduling too."""

    lookups: frozenset[Lookup] = field(default_factory=frozenset)
    scheduling: bool = False

    def __or__(self, other: Plan) -> Plan:
        return Plan(self.lookups | other.lookups, self.scheduling or other.scheduling)

    def __bool__(self) -> bool:
        return bool(self.lookups) or self.scheduling


@dataclass(frozen=True)
class Event:
    event_type: str
    payload: JsonDict
    project_id: str = ""
    message_id: str = ""


# --------------------------------------------------------------------------- the envelope


def parse_envelope(body: object) -> Event:
    """The notification in an oslo.messaging message body (``messagingv2``: ``{"oslo.version": "2.0",
    "oslo.message": "<json>"}``; the older ``messaging`` driver sends the message itself)."""
    if isinstance(body, (bytes, str)):
        body = _json(body)
    if not isinstance(body, dict):
        raise BadEvent(f"the body is a {type(body).__name__}, not an object")
    if "oslo.message" in body:
        inner = body["oslo.message"]
        body = _json(inner) if isinstance(inner, (bytes, str)) else inner
        if not isinstance(body, dict):
            raise BadEvent("oslo.message is not an object")
    event_type, payload = body.get("event_type"), body.get("payload")
    if not isinstance(event_type, str) or not event_type:
        raise BadEvent("no event_type")
    if not isinstance(payload, dict):
        raise BadEvent(f"{event_type}: the payload is not an object")
    project = body.get("_context_project_id")
    message_id = body.get("message_id")
    return Event(
        event_type,
        payload,
        project if isinstance(project, str) else "",
        message_id if isinstance(message_id, str) else "",
    )


def _json(raw: bytes | str) -> object:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadEvent(f"not JSON: {exc}") from exc


# --------------------------------------------------------------------------- event -> lookups


def plan_for(event: Event) -> Plan:
    """The objects ``event`` asks to re-read; :class:`UnknownEvent`/:class:`BadEvent` if it cannot say."""
    kind = event.event_type
    if kind.endswith(IGNORED_SUFFIXES) or kind.startswith(IGNORED_PREFIXES):
        return Plan()
    if kind in SCHEDULER_EVENTS:
        return Plan(scheduling=True)
    if kind in ("router.interface.create", "router.interface.delete"):
        return interface_plan(event.payload)
    parts = kind.split(".")
    if len(parts) == 3 and parts[2] == "end" and parts[1] in ACTIONS and parts[0] in COLLECTIONS:
        return resource_plan(parts[0], parts[1], event.payload)
    raise UnknownEvent(f"unknown event type {kind!r}")


def resource_plan(resource: str, action: str, payload: JsonDict) -> Plan:
    """A ``<resource>.<action>.end``: the objects themselves and what Neutron changed with them."""
    bodies = resource_bodies(resource, action, payload)
    plan = Plan()
    for body in bodies:
        plan = plan | RELATED[resource](body)
    return plan


def resource_bodies(resource: str, action: str, payload: JsonDict) -> list[JsonDict]:
    """The objects a payload carries, each with at least its id (a delete's id from ``<resource>_id``)."""
    collection = COLLECTIONS[resource]
    if action == "delete":
        object_id = payload.get(f"{resource}_id")
        before = payload.get(resource)
        body = dict(before) if isinstance(before, dict) else {}
        if isinstance(object_id, str) and object_id:
            body["id"] = object_id
        found = [body]
    elif isinstance(payload.get(collection), list):  # a bulk create
        found = [b for b in payload[collection] if isinstance(b, dict)]
    elif isinstance(payload.get(resource), dict):
        found = [payload[resource]]
    else:
        raise BadEvent(f"{resource}.{action}.end without a {resource!r} object")
    for body in found:
        if not _id(body.get("id")):
            raise BadEvent(f"{resource}.{action}.end: a {resource} without an id")
    return found


def _id(value: object) -> str:
    return value if isinstance(value, str) and value else ""


def _lookups(*items: tuple[str, str, object]) -> frozenset[Lookup]:
    return frozenset(Lookup(c, f, v) for c, f, v in items if isinstance(v, str) and v)


def network_related(body: JsonDict) -> Plan:
    # Deleting a network deletes its subnets and (DHCP) ports without a notification of their own.
    n = body["id"]
    return Plan(_lookups(("networks", "id", n), ("subnets", "network_id", n), ("ports", "network_id", n)), True)


def subnet_related(body: JsonDict) -> Plan:
    # The network lists its subnets; the network's ports' fixed_ips (DHCP's) follow the subnet.
    n = body.get("network_id")
    return Plan(_lookups(("subnets", "id", body["id"]), ("networks", "id", n), ("ports", "network_id", n)), True)


def port_related(body: JsonDict) -> Plan:
    return Plan(_lookups(("ports", "id", body["id"])))


def router_related(body: JsonDict) -> Plan:
    # A gateway set or cleared makes or removes the router's gateway port; scheduling may change.
    r = body["id"]
    return Plan(_lookups(("routers", "id", r), ("ports", "device_id", r)), True)


def floatingip_related(body: JsonDict) -> Plan:
    # Neutron keeps a port of device_owner network:floatingip, device_id the floating IP's.
    f = body["id"]
    return Plan(_lookups(("floatingips", "id", f), ("ports", "device_id", f)))


def security_group_related(body: JsonDict) -> Plan:
    # A group is made with its default rules and deleted with all of them.
    s = body["id"]
    return Plan(_lookups(("security_groups", "id", s), ("security_group_rules", "security_group_id", s)))


def security_group_rule_related(body: JsonDict) -> Plan:
    # The group lists its rules.
    return Plan(
        _lookups(("security_group_rules", "id", body["id"]), ("security_groups", "id", body.get("security_group_id")))
    )


def agent_related(body: JsonDict) -> Plan:
    # An agent removed (or disabled) takes its routers and networks off the scheduling.
    return Plan(_lookups(("agents", "id", body["id"])), True)


RELATED = {
    "network": network_related,
    "subnet": subnet_related,
    "port": port_related,
    "router": router_related,
    "floatingip": floatingip_related,
    "security_group": security_group_related,
    "security_group_rule": security_group_rule_related,
    "agent": agent_related,
}


def interface_plan(payload: JsonDict) -> Plan:
    info = payload.get("router_interface")
    if not isinstance(info, dict) or not _id(info.get("id")):
        raise BadEvent("router.interface.* without router_interface.id")
    router = info["id"]
    subnets = [info.get("subnet_id"), *(info.get("subnet_ids") or [])]
    return Plan(
        _lookups(("routers", "id", router), ("ports", "device_id", router), ("ports", "id", info.get("port_id")))
        | _lookups(*(("subnets", "id", s) for s in subnets)),
        True,
    )
