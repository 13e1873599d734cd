"""validate_report(): why decoded JSON is not a valid version 1 report, as bounded reasons."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Any

from topology.report.contract import ACCEPTED_VERSIONS, MAX_NAME_LENGTH, MAX_REASONS
from topology.report_bounds import bounds_problems


class _Reasons:
    """Collects reasons up to MAX_REASONS and counts the rest."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.dropped = 0

    def add(self, path: str, message: str) -> None:
        if len(self.items) < MAX_REASONS:
            self.items.append(f"{path}: {message}")
        else:
            self.dropped += 1

    def result(self) -> list[str]:
        if self.dropped:
            return [*self.items, f"... and {self.dropped} more"]
        return self.items


def validate_report(data: object, *, max_namespaces: int = 5000) -> list[str]:
    """Reasons why ``data`` (decoded JSON) is not a valid version 1 report; empty if valid."""
    reasons = _Reasons()
    if not isinstance(data, dict):
        reasons.add("report", f"must be an object, not {_type_name(data)}")
        return reasons.result()
    # First what every value must be to be stored and joined at all (depth, JSON kinds, size
    # of unknown fields): the shape checks below look only at the contract's fields.
    problems = bounds_problems(data)
    if problems:
        return problems
    for key in ("version", "host", "collected_at", "namespaces", "interfaces", "ovs"):
        if key not in data:
            reasons.add(key, "is required")
    if "version" in data:
        _check_version(data["version"], reasons)
    if "host" in data:
        _check_host(data["host"], reasons)
    if "collected_at" in data:
        _check_timestamp(data["collected_at"], "collected_at", reasons)
    if data.get("tunnel_ip") is not None:
        _check_ip(data["tunnel_ip"], "tunnel_ip", reasons)
    if "namespaces" in data:
        _check_namespaces(data["namespaces"], reasons, max_namespaces)
    if "interfaces" in data:
        _check_interfaces(data["interfaces"], "interfaces", reasons)
    for key, check in (("routes", _check_routes), ("rules", _check_rules)):
        if key in data:
            check(data[key], key, reasons)
    for key in ("iptables", "ip6tables"):  # ip6tables: optional (agents from issue 19 on)
        if key in data:
            _check_iptables(data[key], key, reasons)
    if "ovs" in data:
        _check_ovs(data["ovs"], reasons)
    if "ovn" in data:  # optional: an OVN chassis's own settings (topology/agent/ovn_chassis.py)
        _check_ovn(data["ovn"], reasons)
    return reasons.result()


def _check_version(version: object, reasons: _Reasons) -> None:
    """A version this dashboard accepts; else which side to upgrade (docs/design.md "Compatibility")."""
    if _is_int(version) and version in ACCEPTED_VERSIONS:
        return
    accepted = " or ".join(str(v) for v in ACCEPTED_VERSIONS)
    if not _is_int(version):
        reasons.add("version", f"must be {accepted}")
    elif version > max(ACCEPTED_VERSIONS):  # type: ignore[operator]
        reasons.add("version", f"must be {accepted}: {version} is newer than this dashboard, upgrade the dashboard")
    else:
        reasons.add("version", f"must be {accepted}: {version} is older than this dashboard, upgrade the agent")


def _type_name(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return names.get(type(value), type(value).__name__)


def _is_int(value: object) -> bool:
    # JSON true/false decode to bool, a subclass of int: not a number here.
    return isinstance(value, int) and not isinstance(value, bool)


def _check_host(value: object, reasons: _Reasons) -> None:
    # The host name is part of node ids (netns:<host>:<namespace>), so a
    # colon or whitespace would make ids ambiguous.
    if not isinstance(value, str) or not value:
        reasons.add("host", "must be a non-empty string")
    elif len(value) > MAX_NAME_LENGTH or any(c in value for c in ": \t\r\n/"):
        reasons.add("host", "must be a host name (no ':', '/' or whitespace, at most 255 characters)")


def _check_timestamp(value: object, path: str, reasons: _Reasons) -> None:
    if not isinstance(value, str):
        reasons.add(path, "must be an ISO 8601 string")
        return
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        reasons.add(path, f"must be an ISO 8601 timestamp, not {value[:40]!r}")
        return
    if parsed.tzinfo is None:
        reasons.add(path, "must carry a time zone (e.g. a trailing 'Z')")


def _check_ip(value: object, path: str, reasons: _Reasons) -> None:
    if not isinstance(value, str):
        reasons.add(path, "must be an IP address string or null")
        return
    try:
        ipaddress.ip_address(value)
    except ValueError:
        reasons.add(path, f"must be an IP address, not {value[:60]!r}")


def _check_cidr(value: object, path: str, reasons: _Reasons) -> None:
    if not isinstance(value, str):
        reasons.add(path, "must be a CIDR string")
        return
    try:
        if "/" not in value:
            raise ValueError(value)
        ipaddress.ip_interface(value)
    except ValueError:
        reasons.add(path, f"must be an address in CIDR form like '10.0.0.1/24', not {value[:60]!r}")


def _check_name(value: object, path: str, reasons: _Reasons) -> bool:
    if not isinstance(value, str) or not value:
        reasons.add(path, "must be a non-empty string")
        return False
    if len(value) > MAX_NAME_LENGTH:
        reasons.add(path, f"must be at most {MAX_NAME_LENGTH} characters")
        return False
    return True


def _check_optional_str(obj: dict[str, Any], key: str, path: str, reasons: _Reasons) -> None:
    if key in obj and obj[key] is not None and not isinstance(obj[key], str):
        reasons.add(f"{path}.{key}", "must be a string or null")


def _check_optional_int(obj: dict[str, Any], key: str, path: str, reasons: _Reasons) -> None:
    if key in obj and obj[key] is not None and not _is_int(obj[key]):
        reasons.add(f"{path}.{key}", "must be an integer or null")


def _as_list(value: object, path: str, reasons: _Reasons) -> list[Any] | None:
    if not isinstance(value, list):
        reasons.add(path, f"must be an array, not {_type_name(value)}")
        return None
    return value


def _as_object(value: object, path: str, reasons: _Reasons) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        reasons.add(path, f"must be an object, not {_type_name(value)}")
        return None
    return value


def _check_namespaces(value: object, reasons: _Reasons, max_namespaces: int) -> None:
    items = _as_list(value, "namespaces", reasons)
    if items is None:
        return
    if len(items) > max_namespaces:
        reasons.add("namespaces", f"too many namespaces ({len(items)} > {max_namespaces})")
        return
    seen: set[str] = set()
    for i, item in enumerate(items):
        path = f"namespaces[{i}]"
        ns = _as_object(item, path, reasons)
        if ns is None:
            continue
        name = ns.get("name")
        if _check_name(name, f"{path}.name", reasons):
            assert isinstance(name, str)
            if "/" in name or name in (".", ".."):
                reasons.add(f"{path}.name", f"is not a namespace name: {name!r}")
            elif name in seen:
                reasons.add(f"{path}.name", f"duplicate namespace {name!r}")
            seen.add(name)
        _check_interfaces(ns.get("interfaces"), f"{path}.interfaces", reasons)
        _check_routes(ns.get("routes"), f"{path}.routes", reasons)
        _check_rules(ns.get("rules"), f"{path}.rules", reasons)
        _check_iptables(ns.get("iptables"), f"{path}.iptables", reasons)
        if "ip6tables" in ns:  # optional: a node without ip6tables-save, or an older agent
            _check_iptables(ns["ip6tables"], f"{path}.ip6tables", reasons)
        if "processes" in ns:  # optional: older agents do not send it
            _check_processes(ns["processes"], f"{path}.processes", reasons)


def _check_processes(value: object, path: str, reasons: _Reasons) -> None:
    items = _as_list(value, path, reasons)
    for i, item in enumerate(items or []):
        process = _as_object(item, f"{path}[{i}]", reasons)
        if process is None:
            continue
        if not _is_int(process.get("pid")):
            reasons.add(f"{path}[{i}].pid", "must be an integer")
        if not isinstance(process.get("name"), str):
            reasons.add(f"{path}[{i}].name", "must be a string")
        argv = _as_list(process.get("argv"), f"{path}[{i}].argv", reasons)
        if argv is not None and not all(isinstance(a, str) for a in argv):
            reasons.add(f"{path}[{i}].argv", "must be a list of strings")


def _check_interfaces(value: object, path: str, reasons: _Reasons) -> None:
    items = _as_list(value, path, reasons)
    if items is None:
        return
    for i, item in enumerate(items):
        _check_interface(item, f"{path}[{i}]", reasons)


def _check_interface(item: object, path: str, reasons: _Reasons) -> None:
    iface = _as_object(item, path, reasons)
    if iface is None:
        return
    _check_name(iface.get("name"), f"{path}.name", reasons)
    if not isinstance(iface.get("kind"), str):
        reasons.add(f"{path}.kind", "must be a string")
    for key in ("mac", "state", "master", "peer", "peer_netns"):
        _check_optional_str(iface, key, path, reasons)
    _check_optional_int(iface, "mtu", path, reasons)
    _check_optional_int(iface, "peer_ifindex", path, reasons)
    addresses = _as_list(iface.get("addresses", []), f"{path}.addresses", reasons)
    for j, address in enumerate(addresses or []):
        _check_cidr(address, f"{path}.addresses[{j}]", reasons)


def _check_routes(value: object, path: str, reasons: _Reasons) -> None:
    items = _as_list(value, path, reasons)
    if items is None:
        return
    for i, item in enumerate(items):
        route = _as_object(item, f"{path}[{i}]", reasons)
        if route is None:
            continue
        _check_cidr(route.get("dst"), f"{path}[{i}].dst", reasons)
        if route.get("gateway") is not None:
            _check_ip(route["gateway"], f"{path}[{i}].gateway", reasons)
        if not _is_int(route.get("table")):
            reasons.add(f"{path}[{i}].table", "must be an integer")
        _check_optional_str(route, "dev", f"{path}[{i}]", reasons)
        _check_optional_str(route, "src", f"{path}[{i}]", reasons)


def _check_rules(value: object, path: str, reasons: _Reasons) -> None:
    items = _as_list(value, path, reasons)
    if items is None:
        return
    for i, item in enumerate(items):
        rule = _as_object(item, f"{path}[{i}]", reasons)
        if rule is None:
            continue
        if not _is_int(rule.get("priority")):
            reasons.add(f"{path}[{i}].priority", "must be an integer")
        if not _is_int(rule.get("table")):
            reasons.add(f"{path}[{i}].table", "must be an integer")
        for key in ("from", "to"):
            if rule.get(key) is not None:
                _check_cidr(rule[key], f"{path}[{i}].{key}", reasons)
        for key in ("iif", "oif"):
            _check_optional_str(rule, key, f"{path}[{i}]", reasons)


def _check_iptables(value: object, path: str, reasons: _Reasons) -> None:
    tables = _as_object(value, path, reasons)
    if tables is None:
        return
    for key in ("nat", "filter"):
        if not isinstance(tables.get(key), str):
            reasons.add(f"{path}.{key}", "must be a string (iptables-save text, may be empty)")


def _check_ovs(value: object, reasons: _Reasons) -> None:
    ovs = _as_object(value, "ovs", reasons)
    if ovs is None:
        return
    bridges = _as_list(ovs.get("bridges"), "ovs.bridges", reasons)
    for i, item in enumerate(bridges or []):
        _check_bridge(item, f"ovs.bridges[{i}]", reasons)
    flows = _as_object(ovs.get("flows"), "ovs.flows", reasons)
    for bridge, lines in (flows or {}).items():
        items = _as_list(lines, f"ovs.flows[{bridge!r}]", reasons)
        if items is not None and not all(isinstance(line, str) for line in items):
            reasons.add(f"ovs.flows[{bridge!r}]", "must be an array of strings")


def _check_ovn(value: object, reasons: _Reasons) -> None:
    ovn = _as_object(value, "ovn", reasons)
    chassis = _as_object((ovn or {}).get("chassis"), "ovn.chassis", reasons) if ovn is not None else None
    if chassis is not None:
        for key in ("system_id", "remote", "encap_type", "encap_ip", "hostname"):
            _check_optional_str(chassis, key, "ovn.chassis", reasons)
        if chassis.get("encap_ip") is not None:
            _check_ip(chassis["encap_ip"], "ovn.chassis.encap_ip", reasons)
        mappings = _as_object(chassis.get("bridge_mappings", {}), "ovn.chassis.bridge_mappings", reasons)
        if mappings is not None and not all(isinstance(v, str) for v in mappings.values()):
            reasons.add("ovn.chassis.bridge_mappings", "values must be bridge names (strings)")
        options = _as_list(chassis.get("cms_options", []), "ovn.chassis.cms_options", reasons)
        if options is not None and not all(isinstance(o, str) for o in options):
            reasons.add("ovn.chassis.cms_options", "must be an array of strings")
    controller = _as_object((ovn or {}).get("controller", {}), "ovn.controller", reasons) if ovn is not None else None
    if controller is not None:
        for key in ("connection", "error"):
            _check_optional_str(controller, key, "ovn.controller", reasons)


def _check_bridge(item: object, path: str, reasons: _Reasons) -> None:
    bridge = _as_object(item, path, reasons)
    if bridge is None:
        return
    _check_name(bridge.get("name"), f"{path}.name", reasons)
    if not isinstance(bridge.get("datapath_type"), str):
        reasons.add(f"{path}.datapath_type", "must be a string")
    _check_optional_str(bridge, "fail_mode", path, reasons)
    ports = _as_list(bridge.get("ports"), f"{path}.ports", reasons)
    for j, port_item in enumerate(ports or []):
        port_path = f"{path}.ports[{j}]"
        port = _as_object(port_item, port_path, reasons)
        if port is None:
            continue
        _check_name(port.get("name"), f"{port_path}.name", reasons)
        tag = port.get("tag")
        if tag is not None and (not _is_int(tag) or not 0 <= tag <= 4095):
            reasons.add(f"{port_path}.tag", "must be a VLAN id 0..4095 or null")
        interfaces = _as_list(port.get("interfaces"), f"{port_path}.interfaces", reasons)
        for k, iface in enumerate(interfaces or []):
            _check_ovs_interface(iface, f"{port_path}.interfaces[{k}]", reasons)


def _check_ovs_interface(item: object, path: str, reasons: _Reasons) -> None:
    iface = _as_object(item, path, reasons)
    if iface is None:
        return
    _check_name(iface.get("name"), f"{path}.name", reasons)
    if not isinstance(iface.get("type"), str):
        reasons.add(f"{path}.type", "must be a string")
    for key in ("options", "external_ids"):
        mapping = _as_object(iface.get(key, {}), f"{path}.{key}", reasons)
        if mapping is not None and not all(isinstance(v, str) for v in mapping.values()):
            reasons.add(f"{path}.{key}", "values must be strings")
    _check_optional_int(iface, "ofport", path, reasons)
