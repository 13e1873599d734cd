"""Bounds on a decoded report as a whole: depth, value kinds and the size of unknown fields.

The contract keeps unknown fields (docs/design.md "Agent report"), but whatever is
stored is later joined, saved in the database and encoded by ``orjson`` for
every view: a value nested deeper than ``orjson`` encodes (254 levels), a
non-finite float, an integer past 64 bits, a string with a NUL (PostgreSQL's
``jsonb`` refuses it) or a lone surrogate would be stored and then break every
rebuild. So the whole report is walked once, without recursion (a hostile
report must not exhaust the stack), before it is stored.
"""

from __future__ import annotations

import math
from typing import Final

# The contract's deepest value (report.ovs.bridges[].ports[].interfaces[].options{}) is 8
# levels down; unknown fields get room below their parent, never ~250 levels.
MAX_DEPTH: Final = 16

# Unknown fields, summed over the report (strings by length, other values 8 each): what an
# agent of a later version may add beside the contract without being refused; a report
# that is mostly unknown data is not a report.
MAX_UNKNOWN_SIZE: Final = 4 * 1024 * 1024

INT64_MIN: Final = -(2**63)
UINT64_MAX: Final = 2**64 - 1  # orjson encodes up to an unsigned 64-bit integer

# The shape of a known key's plain value (a string, a list of strings, a mapping of strings...):
# its contents are the contract's, not unknown fields.
VALUE: Final = "value"

# Keys the contract names, per object shape (report.py's TypedDicts), and the shape of each
# key's value (an array's items take the shape; "" = a plain value or mapping of any keys).
_SHAPES: Final[dict[str, dict[str, str]]] = {
    "report": {
        "version": "",
        "host": "",
        "collected_at": "",
        "tunnel_ip": "",
        "namespaces": "namespace",
        "interfaces": "interface",
        "ovs": "ovs",
        "routes": "route",
        "rules": "rule",
        "iptables": "iptables",
        "ip6tables": "iptables",
        "errors": "",
    },
    "namespace": {
        "name": "",
        "interfaces": "interface",
        "routes": "route",
        "rules": "rule",
        "iptables": "iptables",
        "ip6tables": "iptables",
    },
    "interface": dict.fromkeys(
        (
            "name",
            "kind",
            "mac",
            "mtu",
            "state",
            "addresses",
            "master",
            "peer",
            "peer_netns",
            "ifindex",
            "admin_up",
            "peer_ifindex",
        ),
        "",
    ),
    "route": dict.fromkeys(
        ("dst", "gateway", "dev", "table", "src", "family", "type", "scope", "proto", "metric", "nexthops"), ""
    ),
    "rule": dict.fromkeys(
        ("priority", "from", "to", "table", "iif", "oif", "action", "family", "fwmark", "fwmask"), ""
    ),
    "iptables": dict.fromkeys(("nat", "filter", "mangle", "raw"), ""),
    "ovs": {"bridges": "bridge", "flows": ""},
    "bridge": {"name": "", "datapath_type": "", "fail_mode": "", "ports": "ovs_port"},
    "ovs_port": {"name": "", "tag": "", "interfaces": "ovs_interface"},
    "ovs_interface": dict.fromkeys(("name", "type", "options", "external_ids", "ofport"), ""),
}


def bounds_problems(data: object, limit: int = 5) -> list[str]:
    """Why ``data`` cannot be stored and joined safely (at most ``limit`` reasons); empty if it can.

    Shapes are checked by report.py; this walks every value once, whatever its shape.
    """
    problems: list[str] = []
    unknown = 0
    # (value, JSON path, depth, shape of the object it is: VALUE inside a known plain value,
    # None inside unknown fields)
    stack: list[tuple[object, str, int, str | None]] = [(data, "report", 1, "report")]
    while stack and len(problems) < limit:
        value, path, depth, shape = stack.pop()
        if shape is None:
            unknown += _size(value)
            if unknown > MAX_UNKNOWN_SIZE:
                problems.append(f"{path}: unknown fields larger than {MAX_UNKNOWN_SIZE} in all")
                break
        if isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                problems.append(f"{path}: nested deeper than {MAX_DEPTH} levels")
                continue
            if isinstance(value, list):
                for i, item in enumerate(value):
                    stack.append((item, f"{path}[{i}]", depth + 1, shape))
                continue
            known = _SHAPES.get(shape) if shape else None
            for key, item in value.items():
                if not isinstance(key, str) or not _storable_text(key):
                    problems.append(f"{path}: a key is not storable text ({str(key)[:40]!r})")
                    continue
                child = _child_shape(known, key) if known is not None else shape
                if child is None:
                    unknown += len(key)
                stack.append((item, f"{path}.{key[:40]}", depth + 1, child))
        else:
            problem = _scalar_problem(value)
            if problem:
                problems.append(f"{path}: {problem}")
    return problems


def _child_shape(known: dict[str, str], key: str) -> str | None:
    """The shape of a known key's value (VALUE for a plain one), None for an unknown key."""
    child = known.get(key)
    if child is None:
        return None
    return child or VALUE


def _size(value: object) -> int:
    return len(value) if isinstance(value, str) else 8


def _storable_text(text: str) -> bool:
    # NUL: PostgreSQL's jsonb refuses it; a lone surrogate: not UTF-8, orjson refuses it.
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _scalar_problem(value: object) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if INT64_MIN <= value <= UINT64_MAX else "integer out of the 64-bit range"
    if isinstance(value, float):
        return None if math.isfinite(value) else "not a finite number"
    if isinstance(value, str):
        return None if _storable_text(value) else "string with a NUL or a lone surrogate"
    return f"not a JSON value ({type(value).__name__})"
