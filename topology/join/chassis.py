"""An OVN chassis as its node agent reports it, checked against the southbound's Chassis (issue 17).

The SB says what northd and the other chassis see (topology/join/ovn.py ``chassis_by_host``); the
chassis's own agent says how ovn-controller is configured and whether it is connected
(topology/agent/ovn_chassis.py, the report's optional ``ovn``). Where the two disagree, or the
chassis cannot do what the cloud asks of it, the host node gets a warning naming the fix. Pure.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

JsonDict = dict[str, Any]
CONNECTED = "connected"
GATEWAY_CMS_OPTION = "enable-chassis-as-gw"


def local_summary(section: Mapping[str, Any]) -> JsonDict:
    """What the host node carries of the agent's section (``ovn.local``)."""
    chassis = section.get("chassis") or {}
    controller = section.get("controller") or {}
    return {
        "system_id": chassis.get("system_id"),
        "remote": chassis.get("remote"),
        "encap": {"type": chassis.get("encap_type"), "ip": chassis.get("encap_ip")},
        "bridge_mappings": dict(chassis.get("bridge_mappings") or {}),
        "gateway": GATEWAY_CMS_OPTION in (chassis.get("cms_options") or []),
        "controller": controller.get("connection"),
    }


def behind_warning(sb_chassis: Mapping[str, Any]) -> str | None:
    """The SB's word that this chassis has not applied the NB's latest configuration (hv_cfg behind nb_cfg)."""
    if not sb_chassis.get("behind"):
        return None
    return (
        f"chassis {sb_chassis['chassis']} has applied NB configuration {sb_chassis['nb_cfg']} of "
        f"{sb_chassis['nb_cfg_wanted']} (Chassis_Private nb_cfg behind NB_Global nb_cfg): its ovn-controller "
        "has not caught up, br-int may hold flows older than the cloud"
    )


def chassis_warnings(
    host: str,
    section: Mapping[str, Any] | None,
    sb_chassis: Mapping[str, Any] | None,
    southbound_read: bool,
    external_physnets: Collection[str],
) -> list[str]:
    """Why this chassis cannot carry what the cloud expects of it; empty when nothing is wrong.

    ``section``: the report's ``ovn`` (None: not an OVN chassis, or an agent too old to say);
    ``sb_chassis``: the SB's Chassis of this host (chassis_by_host); ``southbound_read``: whether the
    snapshot holds the SB at all (unread, its silence proves nothing); ``external_physnets``: the
    physical networks of the cloud's external networks.
    """
    if section is None:
        return []
    local = local_summary(section)
    controller = section.get("controller") or {}
    out: list[str] = []
    if local["controller"] != CONNECTED:
        said = local["controller"] or controller.get("error") or "no answer"
        out.append(
            f"ovn-controller on {host} is not connected to the southbound ({said}): "
            "this chassis's flows no longer follow the cloud"
        )
    if southbound_read and sb_chassis is None:
        out.append(
            f"{host} is configured as OVN chassis {local['system_id'] or '(no system-id)'} but the southbound "
            f"has no Chassis for it: ovn-controller is not running there or does not reach {local['remote']}"
        )
    elif sb_chassis is not None:
        out += _disagreements(host, local, sb_chassis)
    if local["gateway"]:
        missing = sorted(p for p in external_physnets if p not in local["bridge_mappings"])
        for physnet in missing:
            mapped = ",".join(f"{k}:{v}" for k, v in sorted(local["bridge_mappings"].items())) or "none"
            out.append(
                f"gateway chassis {host} has no bridge mapping for physical network {physnet} of the external "
                f"network (ovn-bridge-mappings: {mapped}): router gateways scheduled here cannot reach the outside"
            )
    return out


def _disagreements(host: str, local: Mapping[str, Any], sb_chassis: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    if local["system_id"] and sb_chassis.get("chassis") != local["system_id"]:
        out.append(
            f"{host}'s ovn-controller says system-id {local['system_id']}, the southbound's Chassis of this host "
            f"is {sb_chassis.get('chassis')}: two chassis claim one host"
        )
    encap_ip = local["encap"]["ip"]
    ips = sorted(e.get("ip") for e in sb_chassis.get("encaps") or [] if e.get("ip"))
    if encap_ip and encap_ip not in ips:
        out.append(
            f"{host}'s ovn-encap-ip is {encap_ip} but the southbound has {', '.join(ips) or 'no encap'} for it: "
            "the other chassis tunnel to an address this host does not expect"
        )
    return out
