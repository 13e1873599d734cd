"""Which ML2 backend a cloud runs, from Neutron's agent list, and what the status says of OVN."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from topology.kinds import OVN_SNAPSHOT_KEY, AgentType, Backend
from topology.ovn.connection import NB_SCHEMA, SB_SCHEMA


def detect_backend(agents: Iterable[Mapping[str, Any]]) -> str:
    """``ml2/ovn`` if any OVN agent is listed, else ``ml2/ovs`` if an Open vSwitch agent is, else ``unknown``.

    A project-scoped caller lists no agents (admin-only): ``unknown``, never a guess.
    """
    types = {agent.get("agent_type") for agent in agents}
    if types & AgentType.OVN:
        return Backend.ML2_OVN
    if AgentType.OPEN_VSWITCH in types:
        return Backend.ML2_OVS
    return Backend.UNKNOWN


def database_status(configured: str, read: Any, errors: list[str], schema_word: str) -> dict[str, Any]:
    """One database: configured (its remote set), reachable (read this refresh), its error if any."""
    error = next((e for e in errors if e.startswith(schema_word)), None)
    return {"configured": bool(configured), "reachable": read is not None, "error": error}


def backend_status(snapshot: Mapping[str, Any], nb_remote: str, sb_remote: str) -> dict[str, Any]:
    """The status API's ``backend``: the mechanism and, for OVN (or OVN configured), its databases."""
    body: dict[str, Any] = {"mechanism": detect_backend(snapshot.get("agents") or [])}
    if body["mechanism"] == Backend.ML2_OVN or nb_remote or sb_remote:
        ovn = snapshot.get(OVN_SNAPSHOT_KEY) or {}
        errors = list(ovn.get("errors") or [])
        body["ovn"] = {
            "nb": database_status(nb_remote, ovn.get("nb"), errors, NB_SCHEMA),
            "sb": database_status(sb_remote, ovn.get("sb"), errors, SB_SCHEMA),
        }
    return body
