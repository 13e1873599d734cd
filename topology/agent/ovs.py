"""OVS bridges, ports and interfaces from OVSDB, read with ovsdbapp's IDL.

The IDL keeps a replica of the tables it monitors and calls ``notify`` on
every change, which is what the long-running agent reacts to. Only the
columns the report needs are monitored: ``Interface.statistics`` and
``status`` are rewritten by ovs-vswitchd every few seconds and would wake
the agent for nothing. The agent never writes to OVSDB.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ovsdbapp.backend.ovs_idl import connection, idlutils

from topology.kinds import TUNNEL_TYPES
from topology.report import OvsBridge, OvsInterface, OvsPort

LOG = logging.getLogger(__name__)

DEFAULT_REMOTE = "unix:/var/run/openvswitch/db.sock"

MONITORED = {
    "Open_vSwitch": ("bridges", "other_config", "external_ids", "ovs_version"),
    "Bridge": ("name", "datapath_type", "fail_mode", "ports", "protocols", "external_ids"),
    "Port": ("name", "tag", "trunks", "interfaces"),
    "Interface": ("name", "type", "options", "external_ids", "ofport", "mac_in_use", "error", "link_state"),
}


class OvsUnavailable(Exception):
    """ovsdb-server cannot be reached."""


@dataclass
class OvsSnapshot:
    bridges: list[OvsBridge] = field(default_factory=list)
    other_config: dict[str, str] = field(default_factory=dict)
    external_ids: dict[str, str] = field(default_factory=dict)
    ovs_version: str | None = None


class _NotifyingIdl(connection.OvsdbIdl):
    """An IDL that tells the agent something changed (it does not care what)."""

    on_change: Callable[[], None] | None = None

    def notify(self, event: str, row: Any, updates: Any = None) -> None:
        if self.on_change is not None:
            self.on_change()


class OvsdbReader:
    """A read-only OVSDB replica of the monitored columns."""

    def __init__(self, remote: str = DEFAULT_REMOTE, timeout: float = 5.0) -> None:
        self.remote = remote
        self.timeout = timeout
        self.on_change: Callable[[], None] | None = None
        self._connection: connection.Connection | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Connect and load the tables; raises OvsUnavailable."""
        if self._connection is not None:
            return
        _check_unix_socket(self.remote)
        try:
            helper = idlutils.get_schema_helper(self.remote, "Open_vSwitch")
            schema_tables = helper.schema_json["tables"]
            for table, columns in MONITORED.items():
                present = [c for c in columns if c in schema_tables[table]["columns"]]
                helper.register_columns(table, present)
            idl = _NotifyingIdl(self.remote, helper)
            conn = connection.Connection(idl, timeout=self.timeout)
            conn.start()
        except Exception as exc:  # ovsdbapp raises bare Exception and TimeoutException
            raise OvsUnavailable(f"ovsdb {self.remote}: {exc or type(exc).__name__}") from exc
        # Only now: the initial load notifies every row, which is not a change
        # (the report being built reads that load anyway).
        idl.on_change = self._changed
        self._connection = conn

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.stop(timeout=5)
            self._connection = None

    @property
    def connected(self) -> bool:
        conn = self._connection
        return conn is not None and conn.idl._session.is_connected()

    def snapshot(self) -> OvsSnapshot:
        """The bridges as OVSDB has them now; raises OvsUnavailable when not connected."""
        conn = self._connection
        if conn is None or not self.connected:
            raise OvsUnavailable(f"ovsdb {self.remote}: not connected")
        with conn.lock:  # the IDL thread applies updates under this lock
            tables = conn.idl.tables
            root = next(iter(tables["Open_vSwitch"].rows.values()), None)
            bridges = [_bridge(row) for row in tables["Bridge"].rows.values()]
            snapshot = OvsSnapshot(bridges=sorted(bridges, key=lambda b: b["name"]))
            if root is not None:
                snapshot.other_config = dict(root.other_config)
                snapshot.external_ids = dict(root.external_ids)
                snapshot.ovs_version = _optional(getattr(root, "ovs_version", []))
        return snapshot

    def _changed(self) -> None:
        callback = self.on_change
        if callback is not None:
            callback()


def _check_unix_socket(remote: str) -> None:
    # Fail fast instead of waiting for the IDL's connection timeout when the
    # socket file is not even there (OVS not started on this node).
    for part in idlutils.parse_connection(remote):
        if not part.startswith("unix:") or Path(part[5:]).exists():
            return
    raise OvsUnavailable(f"ovsdb {remote}: no such socket (is openvswitch-switch running?)")


def _optional(value: Any) -> Any:
    """OVSDB optional columns come as [] or [value]."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _bridge(row: Any) -> OvsBridge:
    ports = sorted((_port(port) for port in row.ports), key=lambda p: p["name"])
    bridge: OvsBridge = {
        "name": row.name,
        "datapath_type": row.datapath_type or "system",
        "fail_mode": _optional(row.fail_mode),
        "ports": ports,
    }
    extra: dict[str, Any] = bridge  # type: ignore[assignment]
    extra["protocols"] = list(getattr(row, "protocols", []))
    extra["external_ids"] = dict(row.external_ids)
    return bridge


def _port(row: Any) -> OvsPort:
    interfaces = sorted((_interface(iface) for iface in row.interfaces), key=lambda i: i["name"])
    port: OvsPort = {"name": row.name, "tag": _optional(row.tag), "interfaces": interfaces}
    trunks = list(getattr(row, "trunks", []))
    if trunks:
        extra: dict[str, Any] = port  # type: ignore[assignment]
        extra["trunks"] = trunks
    return port


def _interface(row: Any) -> OvsInterface:
    ofport = _optional(row.ofport)
    iface: OvsInterface = {
        "name": row.name,
        "type": row.type,
        "options": dict(row.options),
        "external_ids": dict(row.external_ids),
        "ofport": ofport,
    }
    extra: dict[str, Any] = iface  # type: ignore[assignment]
    extra["mac_in_use"] = _optional(getattr(row, "mac_in_use", []))
    extra["link_state"] = _optional(getattr(row, "link_state", []))
    # "could not open network device qvo..." is the error operators look for.
    extra["error"] = _optional(getattr(row, "error", []))
    return iface


def internal_interfaces(bridges: list[OvsBridge]) -> set[str]:
    return {
        iface["name"]
        for bridge in bridges
        for port in bridge["ports"]
        for iface in port["interfaces"]
        if iface["type"] == "internal"
    }


def _is_ip(value: str | None) -> bool:
    # local_ip may also be "flow" (set per packet by flows): not an endpoint.
    try:
        ipaddress.ip_address(value or "")
    except ValueError:
        return False
    return True


def tunnel_ip(override: str | None, snapshot: OvsSnapshot | None) -> str | None:
    """The host's tunnel endpoint address, by this rule (first match wins):

    1. ``--tunnel-ip`` when given;
    2. the most common ``options:local_ip`` of the OVS tunnel interfaces
       (vxlan-*/gre-*/geneve-*): Neutron's OVS agent writes its
       ``[ovs] local_ip`` there on every tunnel port it creates;
    3. Open_vSwitch ``other_config:local_ip``, then
       ``external_ids:ovn-encap-ip`` (set by deployment tools; OVN's key);
    4. null: a single node with no tunnel port yet has no endpoint to show.
    """
    if override:
        return override
    if snapshot is None:
        return None
    local_ips = Counter(
        iface["options"]["local_ip"]
        for bridge in snapshot.bridges
        for port in bridge["ports"]
        for iface in port["interfaces"]
        if iface["type"] in TUNNEL_TYPES and _is_ip(iface["options"].get("local_ip"))
    )
    if local_ips:
        return local_ips.most_common(1)[0][0]
    return snapshot.other_config.get("local_ip") or snapshot.external_ids.get("ovn-encap-ip") or None
