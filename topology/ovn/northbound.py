"""OVN's northbound database: the logical network as Neutron's OVN driver wrote it.

One function per NB table, named after it, each turning one IDL row into a plain dict whose keys are
the schema's column names (references become the referenced rows' names or uuids). Neutron's ids
are in the names (``neutron-<network id>``, the port id, ``lrp-<port id>``, ``pg_<sg id with _>``)
and in ``external_ids`` (``neutron:network_name``, ``neutron:device_owner``, ``neutron:revision_number``...).
"""

from __future__ import annotations

from typing import Any

from topology.ovn.connection import DEFAULT_TIMEOUT, NB_SCHEMA, connect
from topology.ovn.values import (
    column,
    integer,
    mapping,
    optional,
    plain,
    ref_name,
    ref_names,
    ref_uuids,
    refs,
    strings,
    text,
    uuid,
)

# The columns read per table. A column an older schema lacks is skipped at registration and read
# as empty (ACL.tier arrived after 23.03, for one).
COLUMNS: dict[str, tuple[str, ...]] = {
    "NB_Global": ("nb_cfg", "sb_cfg", "hv_cfg", "nb_cfg_timestamp", "hv_cfg_timestamp", "options", "external_ids"),
    "Logical_Switch": ("name", "ports", "acls", "load_balancer", "other_config", "external_ids"),
    "Logical_Switch_Port": (
        "name", "type", "addresses", "port_security", "options", "external_ids", "up", "enabled",
        "tag", "parent_name", "dhcpv4_options", "dhcpv6_options", "ha_chassis_group",
    ),
    "Logical_Router": ("name", "ports", "nat", "static_routes", "load_balancer", "enabled", "options", "external_ids"),
    "Logical_Router_Port": (
        "name", "networks", "mac", "options", "gateway_chassis", "ha_chassis_group", "peer", "enabled", "external_ids",
    ),
    "Logical_Router_Static_Route": ("ip_prefix", "nexthop", "output_port", "policy", "external_ids"),
    "NAT": ("type", "external_ip", "logical_ip", "external_mac", "logical_port", "options", "external_ids"),
    "ACL": ("name", "direction", "priority", "match", "action", "log", "severity", "tier", "options", "external_ids"),
    "Port_Group": ("name", "ports", "acls", "external_ids"),
    "Address_Set": ("name", "addresses", "external_ids"),
    "Gateway_Chassis": ("name", "chassis_name", "priority", "options", "external_ids"),
    "HA_Chassis_Group": ("name", "ha_chassis", "external_ids"),
    "HA_Chassis": ("chassis_name", "priority", "external_ids"),
    "DHCP_Options": ("cidr", "options", "external_ids"),
    "Load_Balancer": ("name", "vips", "protocol", "external_ids"),
}  # fmt: skip


def nb_global(row: Any) -> dict[str, Any]:
    return {
        "nb_cfg": integer(row, "nb_cfg"),
        "sb_cfg": integer(row, "sb_cfg"),
        "hv_cfg": integer(row, "hv_cfg"),
        "nb_cfg_timestamp": integer(row, "nb_cfg_timestamp"),
        "hv_cfg_timestamp": integer(row, "hv_cfg_timestamp"),
        "options": mapping(row, "options"),
        "external_ids": mapping(row, "external_ids"),
    }


def logical_switch(row: Any) -> dict[str, Any]:
    ports = sorted(({"uuid": uuid(p), "name": text(p, "name")} for p in refs(row, "ports")), key=lambda p: p["name"])
    return {
        "uuid": uuid(row),
        "name": text(row, "name"),
        "ports": ports,
        "acls": ref_uuids(row, "acls"),
        "load_balancer": ref_names(row, "load_balancer"),
        "other_config": mapping(row, "other_config"),
        "external_ids": mapping(row, "external_ids"),
    }


def logical_switch_port(row: Any, switch: str | None = None) -> dict[str, Any]:
    return {
        "uuid": uuid(row),
        "name": text(row, "name"),
        "logical_switch": switch,
        "type": text(row, "type"),
        "addresses": sorted(str(a) for a in column(row, "addresses", [])),
        "port_security": sorted(str(a) for a in column(row, "port_security", [])),
        "options": mapping(row, "options"),
        "external_ids": mapping(row, "external_ids"),
        "up": optional(row, "up"),
        "enabled": optional(row, "enabled"),
        "tag": integer(row, "tag"),
        "parent_name": optional(row, "parent_name"),
        "dhcpv4_options": ref_uuids(row, "dhcpv4_options"),
        "dhcpv6_options": ref_uuids(row, "dhcpv6_options"),
        "ha_chassis_group": ref_name(row, "ha_chassis_group"),
    }


def logical_router(row: Any) -> dict[str, Any]:
    return {
        "uuid": uuid(row),
        "name": text(row, "name"),
        "ports": ref_names(row, "ports"),
        "nat": ref_uuids(row, "nat"),
        "static_routes": sorted(
            (logical_router_static_route(r) for r in refs(row, "static_routes")), key=lambda r: r["ip_prefix"]
        ),
        "load_balancer": ref_names(row, "load_balancer"),
        "enabled": optional(row, "enabled"),
        "options": mapping(row, "options"),
        "external_ids": mapping(row, "external_ids"),
    }


def logical_router_static_route(row: Any) -> dict[str, Any]:
    return {
        "ip_prefix": text(row, "ip_prefix"),
        "nexthop": text(row, "nexthop"),
        "output_port": optional(row, "output_port"),
        "policy": optional(row, "policy"),
        "external_ids": mapping(row, "external_ids"),
    }


def gateway_chassis(row: Any) -> dict[str, Any]:
    return {
        "uuid": uuid(row),
        "name": text(row, "name"),
        "chassis_name": text(row, "chassis_name"),
        "priority": integer(row, "priority"),
        "options": mapping(row, "options"),
        "external_ids": mapping(row, "external_ids"),
    }


def logical_router_port(row: Any, router: str | None = None) -> dict[str, Any]:
    chassis = sorted(
        (gateway_chassis(g) for g in refs(row, "gateway_chassis")), key=lambda g: (-(g["priority"] or 0), g["name"])
    )
    return {
        "uuid": uuid(row),
        "name": text(row, "name"),
        "logical_router": router,
        "networks": strings(row, "networks"),
        "mac": text(row, "mac"),
        "options": mapping(row, "options"),
        "gateway_chassis": chassis,
        "ha_chassis_group": ref_name(row, "ha_chassis_group"),
        "peer": optional(row, "peer"),
        "enabled": optional(row, "enabled"),
        "external_ids": mapping(row, "external_ids"),
    }


def nat(row: Any, router: str | None = None) -> dict[str, Any]:
    return {
        "uuid": uuid(row),
        "logical_router": router,
        "type": text(row, "type"),
        "external_ip": text(row, "external_ip"),
        "logical_ip": text(row, "logical_ip"),
        "external_mac": optional(row, "external_mac"),
        "logical_port": optional(row, "logical_port"),
        "options": mapping(row, "options"),
        "external_ids": mapping(row, "external_ids"),
    }


def acl(row: Any, port_group: str | None = None, logical_switch: str | None = None) -> dict[str, Any]:
    return {
        "uuid": uuid(row),
        "port_group": port_group,
        "logical_switch": logical_switch,
        "name": optional(row, "name"),
        "direction": text(row, "direction"),
        "priority": integer(row, "priority"),
        "match": text(row, "match"),
        "action": text(row, "action"),
        "log": optional(row, "log"),
        "severity": optional(row, "severity"),
        "tier": integer(row, "tier"),
        "options": mapping(row, "options"),
        "external_ids": mapping(row, "external_ids"),
    }


def port_group(row: Any) -> dict[str, Any]:
    return {
        "uuid": uuid(row),
        "name": text(row, "name"),
        "ports": ref_names(row, "ports"),
        "acls": ref_uuids(row, "acls"),
        "external_ids": mapping(row, "external_ids"),
    }


def address_set(row: Any) -> dict[str, Any]:
    return {
        "uuid": uuid(row),
        "name": text(row, "name"),
        "addresses": strings(row, "addresses"),
        "external_ids": mapping(row, "external_ids"),
    }


def ha_chassis_group(row: Any) -> dict[str, Any]:
    members = [
        {"chassis_name": text(c, "chassis_name"), "priority": integer(c, "priority")} for c in refs(row, "ha_chassis")
    ]
    return {
        "uuid": uuid(row),
        "name": text(row, "name"),
        "ha_chassis": sorted(members, key=lambda m: (-(m["priority"] or 0), m["chassis_name"])),
        "external_ids": mapping(row, "external_ids"),
    }


def dhcp_options(row: Any) -> dict[str, Any]:
    return {
        "uuid": uuid(row),
        "cidr": text(row, "cidr"),
        "options": mapping(row, "options"),
        "external_ids": mapping(row, "external_ids"),
    }


def load_balancer(row: Any) -> dict[str, Any]:
    """Listed only: name and vips (and protocol); health checks and backends' status are not read."""
    return {
        "uuid": uuid(row),
        "name": text(row, "name"),
        "vips": mapping(row, "vips"),
        "protocol": optional(row, "protocol"),
        "external_ids": mapping(row, "external_ids"),
    }


def _rows(tables: dict[str, Any], name: str) -> list[Any]:
    table = tables.get(name)
    return list(table.rows.values()) if table is not None else []


def northbound_from_tables(tables: dict[str, Any]) -> dict[str, Any]:
    """The whole NB as plain dicts, from the IDL's tables (read under the connection's lock)."""
    switches = _rows(tables, "Logical_Switch")
    routers = _rows(tables, "Logical_Router")
    groups = _rows(tables, "Port_Group")
    # Owners of the rows that only a parent references (ports, NAT, ACLs): the parent's name.
    lsp_owner = {p.uuid: text(s, "name") for s in switches for p in refs(s, "ports")}
    lrp_owner = {p.uuid: text(r, "name") for r in routers for p in refs(r, "ports")}
    nat_owner = {n.uuid: text(r, "name") for r in routers for n in refs(r, "nat")}
    acl_pg = {a.uuid: text(g, "name") for g in groups for a in refs(g, "acls")}
    acl_ls = {a.uuid: text(s, "name") for s in switches for a in refs(s, "acls")}
    globals_ = _rows(tables, "NB_Global")

    def by_name(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(items, key=lambda d: (str(d.get("name") or ""), d["uuid"]))

    acls = [acl(a, acl_pg.get(a.uuid), acl_ls.get(a.uuid)) for a in _rows(tables, "ACL")]
    nats = [nat(n, nat_owner.get(n.uuid)) for n in _rows(tables, "NAT")]
    return {
        "nb_global": nb_global(globals_[0]) if globals_ else None,
        "logical_switches": by_name([logical_switch(s) for s in switches]),
        "logical_switch_ports": by_name(
            [logical_switch_port(p, lsp_owner.get(p.uuid)) for p in _rows(tables, "Logical_Switch_Port")]
        ),
        "logical_routers": by_name([logical_router(r) for r in routers]),
        "logical_router_ports": by_name(
            [logical_router_port(p, lrp_owner.get(p.uuid)) for p in _rows(tables, "Logical_Router_Port")]
        ),
        "nat": sorted(nats, key=lambda n: (n["type"], n["external_ip"], n["logical_ip"], n["uuid"])),
        "acls": sorted(acls, key=lambda a: (a["direction"], -(a["priority"] or 0), a["match"], a["uuid"])),
        "port_groups": by_name([port_group(g) for g in groups]),
        "address_sets": by_name([address_set(a) for a in _rows(tables, "Address_Set")]),
        "gateway_chassis": by_name([gateway_chassis(g) for g in _rows(tables, "Gateway_Chassis")]),
        "ha_chassis_groups": by_name([ha_chassis_group(g) for g in _rows(tables, "HA_Chassis_Group")]),
        "dhcp_options": sorted(
            (dhcp_options(d) for d in _rows(tables, "DHCP_Options")), key=lambda d: (d["cidr"], d["uuid"])
        ),
        "load_balancers": by_name([load_balancer(lb) for lb in _rows(tables, "Load_Balancer")]),
    }


def read_northbound(remote: str, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """Connect to the NB database at ``remote``, read it once, disconnect; raises OvnUnavailable."""
    db = connect(remote, NB_SCHEMA, COLUMNS, timeout)
    try:
        with db.conn.lock:
            out = northbound_from_tables(db.tables())
    finally:
        db.close()
    return plain(out)
