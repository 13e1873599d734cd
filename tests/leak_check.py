"""Did anything of project X reach a caller of project Y? Asked of Neutron itself, as admin.

``project_secrets`` lists, from Neutron (not from our graph, which is what is under test), every id,
device-name prefix, name, address and MAC of project X's networks, subnets, ports, routers,
floating IPs and security groups (and of the project-less ports that serve X's routers and
floating IPs: gateway and floating IP ports), minus whatever the caller may see itself (its own
objects, the public network: overlapping names and addresses are not secrets). ``leaks`` greps a
response for them.
"""

from __future__ import annotations

import re
from typing import Any

import openstack.connection

Cloud = openstack.connection.Connection


def object_tokens(obj: dict[str, Any]) -> set[str]:
    tokens = {obj["id"], obj["id"][:11], str(obj.get("name") or ""), str(obj.get("mac_address") or "").lower()}
    for key in ("floating_ip_address", "fixed_ip_address", "gateway_ip"):
        tokens.add(str(obj.get(key) or ""))
    tokens.add(str(obj.get("cidr") or "").split("/")[0])
    tokens.update(str(ip.get("ip_address") or "") for ip in obj.get("fixed_ips") or [])
    gateway = obj.get("external_gateway_info") or {}
    tokens.update(str(ip.get("ip_address") or "") for ip in gateway.get("external_fixed_ips") or [])
    tokens.discard("")
    return tokens


RESOURCES = ("networks", "subnets", "ports", "routers", "floatingips", "security-groups")


def objects_of(admin: Cloud, project_id: str) -> list[dict[str, Any]]:
    """Project ``project_id``'s objects, with the ports that serve its routers and floating IPs."""
    found: list[dict[str, Any]] = []
    for resource in RESOURCES:
        key = resource.replace("-", "_")
        listed = admin.network.get(f"/{resource}").json()[key]
        found += [o for o in listed if o.get("project_id") == project_id]
    served = {o["id"] for o in found if "external_gateway_info" in o or "floating_ip_address" in o}
    ports = admin.network.get("/ports").json()["ports"]
    found += [p for p in ports if not p.get("project_id") and p.get("device_id") in served]
    return found


def public_objects(admin: Cloud) -> list[dict[str, Any]]:
    networks = [
        n for n in admin.network.get("/networks").json()["networks"] if n.get("router:external") or n.get("shared")
    ]
    ids = {n["id"] for n in networks}
    return networks + [s for s in admin.network.get("/subnets").json()["subnets"] if s["network_id"] in ids]


def project_secrets(admin: Cloud, project_id: str, caller_project_id: str, vm_names: dict[str, str]) -> set[str]:
    """What names project ``project_id`` and nothing the caller may see (``vm_names``: lab VM -> port id)."""
    theirs = objects_of(admin, project_id)
    mine = objects_of(admin, caller_project_id) + public_objects(admin)
    secret = {t for o in theirs for t in object_tokens(o)}
    allowed = {t for o in mine for t in object_tokens(o)}
    their_ports = {o["id"] for o in theirs}
    my_ports = {o["id"] for o in mine}
    secret |= {name for name, port in vm_names.items() if port in their_ports}
    allowed |= {name for name, port in vm_names.items() if port in my_ports}
    return secret - allowed


def leaks(text: str, secrets: set[str]) -> list[str]:
    """The secrets found in ``text``: ids and id prefixes anywhere (device names embed them),
    names and addresses as whole words (10.0.0.1 is not in 10.0.0.127)."""
    low = text.lower()
    found = []
    for token in sorted(secrets):
        if re.fullmatch(r"[0-9a-f]{8}-[0-9a-f-]{2,27}", token):
            hit = token in low
        else:
            hit = re.search(rf"(?<![\w.:-]){re.escape(token.lower())}(?![\w:-]|\.\d)", low) is not None
        if hit:
            found.append(token)
    return found
