"""What only an OVN chassis knows of itself: the report's optional ``ovn`` section (issue 17, "Collection").

ovn-controller is configured by the local Open vSwitch database's ``external_ids`` (``system-id``,
``ovn-remote``, ``ovn-encap-type``, ``ovn-encap-ip``, ``ovn-bridge-mappings``, ``ovn-cms-options``):
the agent already reads that row for the tunnel address, so the chassis's settings come at no cost.
Whether ovn-controller is connected to the southbound is its own answer
(``ovn-appctl -t ovn-controller connection-status``: "connected" or "not connected"), bounded like
every command of the agent. A node without ``ovn-remote`` is not an OVN chassis: no section at all
(the report stays as an ML2/OVS node's).

    "ovn": {"chassis": {"system_id", "remote", "encap_type", "encap_ip", "bridge_mappings": {physnet: bridge},
                        "cms_options": [...], "hostname"},
            "controller": {"connection": "connected" | "not connected" | null, "error": str | null}}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from topology.agent.probe_run import Run, run_bounded

CONNECTION_STATUS = ("ovn-appctl", "-t", "ovn-controller", "connection-status")
STATUS_TIMEOUT_S = 5.0
KEYS = {
    "system_id": "system-id",
    "remote": "ovn-remote",
    "encap_type": "ovn-encap-type",
    "encap_ip": "ovn-encap-ip",
    "hostname": "hostname",
}


def bridge_mappings(text: str) -> dict[str, str]:
    """``physnet1:br-ex,physnet2:br-vlan`` as {physnet: bridge} (OVN's syntax, as Neutron's OVS agent's)."""
    out: dict[str, str] = {}
    for item in text.split(","):
        physnet, sep, bridge = item.strip().partition(":")
        if sep and physnet and bridge:
            out[physnet] = bridge
    return out


def chassis_of(external_ids: Mapping[str, str]) -> dict[str, Any] | None:
    """The chassis's settings, or None when this node runs no ovn-controller (no ``ovn-remote``)."""
    if not external_ids.get("ovn-remote"):
        return None
    chassis: dict[str, Any] = {key: external_ids.get(name) or None for key, name in KEYS.items()}
    chassis["bridge_mappings"] = bridge_mappings(external_ids.get("ovn-bridge-mappings", ""))
    options = external_ids.get("ovn-cms-options", "")
    chassis["cms_options"] = [o.strip() for o in options.split(",") if o.strip()]
    return chassis


def controller_of(run: Callable[[Sequence[str], float], Run] = run_bounded) -> dict[str, Any]:
    """ovn-controller's own word on its southbound connection; its error when it does not answer."""
    done = run(CONNECTION_STATUS, STATUS_TIMEOUT_S)
    if done.exit_status == 0 and done.output.strip():
        return {"connection": done.output.strip().splitlines()[0][:64], "error": None}
    why = (done.errors.strip() or done.output.strip() or f"exit status {done.exit_status}").splitlines()
    return {"connection": None, "error": ("ovn-controller does not answer: " + (why[-1] if why else ""))[:300]}


def ovn_section(
    external_ids: Mapping[str, str], run: Callable[[Sequence[str], float], Run] = run_bounded
) -> dict[str, Any] | None:
    """The report's ``ovn`` section, or None on a node that is not an OVN chassis."""
    chassis = chassis_of(external_ids)
    if chassis is None:
        return None
    return {"chassis": chassis, "controller": controller_of(run)}
