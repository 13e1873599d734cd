"""A probe request checked against the host's last report, before anything reaches the agent.

On top of the agent's own syntax checks (topology/agent/probes.validate),
every name must be one the host reported: the bridge (of a trace or a flow count; and the in_port, by
name or OpenFlow number, on that bridge), the namespace, and ``iif`` among
that namespace's interfaces, and so is ``dev`` (or the root namespace's when none is given).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from topology.agent.probes import ProbeInvalid, validate

Args = dict[str, Any]


def _bridge(report: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    for bridge in (report.get("ovs") or {}).get("bridges") or []:
        if bridge.get("name") == name:
            return bridge
    names = sorted(b.get("name", "") for b in (report.get("ovs") or {}).get("bridges") or [])
    raise ProbeInvalid(f"bridge {name!r} is not in the host's last report (bridges: {', '.join(names) or 'none'})")


def _check_in_port(bridge: Mapping[str, Any], in_port: str | int) -> None:
    for port in bridge.get("ports") or []:
        for interface in port.get("interfaces") or []:
            if in_port in (interface.get("name"), interface.get("ofport")):
                return
    raise ProbeInvalid(f"in_port {in_port!r} is not a port of bridge {bridge.get('name')!r} in the host's last report")


def _namespace(report: Mapping[str, Any], name: str | None) -> list[Mapping[str, Any]]:
    """The interfaces of the namespace (None: the root namespace)."""
    if name is None:
        return list(report.get("interfaces") or [])
    for namespace in report.get("namespaces") or []:
        if namespace.get("name") == name:
            return list(namespace.get("interfaces") or [])
    raise ProbeInvalid(f"namespace {name!r} is not in the host's last report")


def validate_for_host(kind: Any, args: Any, report: Mapping[str, Any]) -> Args:
    """The canonical arguments, every name checked against ``report``; raises ProbeInvalid."""
    clean = validate(kind, args)
    if kind == "ofproto_trace":
        _check_in_port(_bridge(report, clean["bridge"]), clean["in_port"])
        return clean
    if kind == "flow_counters":
        _bridge(report, clean["bridge"])
        return clean
    if kind == "ovn_trace":
        return clean  # logical names, not the host's: the southbound says whether they exist
    interfaces = _namespace(report, clean.get("namespace"))
    names = {interface.get("name") for interface in interfaces}
    for key in ("iif", "dev"):
        device = clean.get(key)
        if device is not None and device not in names:
            where = f"namespace {clean['namespace']!r}" if clean.get("namespace") else "the root namespace"
            raise ProbeInvalid(f"{key} {device!r} is not an interface of {where} in the host's last report")
    return clean
