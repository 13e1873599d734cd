"""OVN's southbound database: the chassis and where each logical port is bound.

One function per SB table, named after it. ``Chassis.name`` is ovn-controller's
``external_ids:system-id`` on the node (the join key to a host, with ``hostname``), an ``Encap``'s
``ip`` its tunnel endpoint; ``Port_Binding.logical_port`` is the NB port's name (Neutron's port id,
``lrp-<id>``, ``cr-lrp-<id>`` for a gateway port whose ``chassis`` is where centralized SNAT happens).
"""

from __future__ import annotations

from typing import Any

from topology.ovn.connection import DEFAULT_TIMEOUT, SB_SCHEMA, connect
from topology.ovn.values import (
    integer,
    mapping,
    optional,
    plain,
    ref_name,
    refs,
    strings,
    text,
    uuid,
)

COLUMNS: dict[str, tuple[str, ...]] = {
    "SB_Global": ("nb_cfg", "options", "external_ids"),
    "Chassis": ("name", "hostname", "encaps", "other_config", "external_ids", "transport_zones", "nb_cfg"),
    "Chassis_Private": ("name", "chassis", "nb_cfg", "nb_cfg_timestamp", "external_ids"),
    "Encap": ("type", "ip", "chassis_name", "options"),
    "Datapath_Binding": ("tunnel_key", "external_ids"),
    "Port_Binding": (
        "logical_port", "type", "chassis", "up", "tunnel_key", "datapath", "mac", "options",
        "requested_chassis", "external_ids",
    ),
}  # fmt: skip


def sb_global(row: Any) -> dict[str, Any]:
    return {
        "nb_cfg": integer(row, "nb_cfg"),
        "options": mapping(row, "options"),
        "external_ids": mapping(row, "external_ids"),
    }


def encap(row: Any) -> dict[str, Any]:
    return {
        "uuid": uuid(row),
        "type": text(row, "type"),
        "ip": text(row, "ip"),
        "chassis_name": text(row, "chassis_name"),
        "options": mapping(row, "options"),
    }


def cms_options(config: dict[str, str]) -> list[str]:
    """``ovn-cms-options`` (``enable-chassis-as-gw,...``): in other_config since OVN 20.06, external_ids before."""
    raw = config.get("ovn-cms-options", "")
    return [o.strip() for o in raw.split(",") if o.strip()]


def chassis(row: Any) -> dict[str, Any]:
    other_config = mapping(row, "other_config")
    external_ids = mapping(row, "external_ids")
    encaps = sorted((encap(e) for e in refs(row, "encaps")), key=lambda e: (e["type"], e["ip"]))
    return {
        "uuid": uuid(row),
        "name": text(row, "name"),
        "hostname": text(row, "hostname"),
        "encaps": encaps,
        "other_config": other_config,
        "external_ids": external_ids,
        "cms_options": cms_options(other_config) or cms_options(external_ids),
        "transport_zones": strings(row, "transport_zones"),
    }


def chassis_private(row: Any) -> dict[str, Any]:
    return {
        "uuid": uuid(row),
        "name": text(row, "name"),
        "chassis": ref_name(row, "chassis"),
        "nb_cfg": integer(row, "nb_cfg"),
        "nb_cfg_timestamp": integer(row, "nb_cfg_timestamp"),
        "external_ids": mapping(row, "external_ids"),
    }


def datapath_binding(row: Any) -> dict[str, Any]:
    """``external_ids`` carry northd's ``logical-switch``/``logical-router`` (the NB uuid) and ``name``."""
    return {
        "uuid": uuid(row),
        "tunnel_key": integer(row, "tunnel_key"),
        "external_ids": mapping(row, "external_ids"),
    }


def port_binding(row: Any) -> dict[str, Any]:
    datapaths = refs(row, "datapath")
    datapath = datapaths[0] if datapaths else None
    return {
        "uuid": uuid(row),
        "logical_port": text(row, "logical_port"),
        "type": text(row, "type"),
        "chassis": ref_name(row, "chassis"),
        "requested_chassis": ref_name(row, "requested_chassis"),
        "up": optional(row, "up"),
        "tunnel_key": integer(row, "tunnel_key"),
        "datapath": uuid(datapath) if datapath is not None else None,
        "datapath_tunnel_key": integer(datapath, "tunnel_key") if datapath is not None else None,
        "mac": strings(row, "mac"),
        "options": mapping(row, "options"),
        "external_ids": mapping(row, "external_ids"),
    }


def _rows(tables: dict[str, Any], name: str) -> list[Any]:
    table = tables.get(name)
    return list(table.rows.values()) if table is not None else []


def southbound_from_tables(tables: dict[str, Any]) -> dict[str, Any]:
    """The whole SB as plain dicts, from the IDL's tables (read under the connection's lock)."""
    globals_ = _rows(tables, "SB_Global")
    return {
        "sb_global": sb_global(globals_[0]) if globals_ else None,
        "chassis": sorted((chassis(c) for c in _rows(tables, "Chassis")), key=lambda c: c["name"]),
        "chassis_private": sorted(
            (chassis_private(c) for c in _rows(tables, "Chassis_Private")), key=lambda c: c["name"]
        ),
        "encaps": sorted(
            (encap(e) for e in _rows(tables, "Encap")), key=lambda e: (e["chassis_name"], e["type"], e["ip"])
        ),
        "datapath_bindings": sorted(
            (datapath_binding(d) for d in _rows(tables, "Datapath_Binding")), key=lambda d: d["tunnel_key"] or 0
        ),
        "port_bindings": sorted(
            (port_binding(p) for p in _rows(tables, "Port_Binding")), key=lambda p: (p["logical_port"], p["uuid"])
        ),
    }


def read_southbound(remote: str, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """Connect to the SB database at ``remote``, read it once, disconnect; raises OvnUnavailable."""
    db = connect(remote, SB_SCHEMA, COLUMNS, timeout)
    try:
        with db.conn.lock:
            out = southbound_from_tables(db.tables())
    finally:
        db.close()
    return plain(out)
