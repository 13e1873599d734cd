"""The typed checks of a probe's arguments (topology/agent/probes.py): names, numbers, addresses, MACs.

Every check either returns the canonical value or raises ProbeInvalid saying which argument and why.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from typing import Any

# Kernel and OVS names: letters, digits and . _ - : only, a leading letter or digit (no option-like "-x").
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
NETNS_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


class ProbeInvalid(ValueError):
    """The request's arguments are not a valid probe; the message says which and why."""


Args = dict[str, Any]


def name_arg(args: Mapping[str, Any], key: str, required: bool, pattern: re.Pattern[str] = NAME_RE) -> str | None:
    value = args.get(key)
    if value is None:
        if required:
            raise ProbeInvalid(f"{key} is required")
        return None
    if not isinstance(value, str) or not pattern.match(value):
        raise ProbeInvalid(
            f"{key} must be a device, bridge or namespace name (letters, digits, . _ - :), got {str(value)[:80]!r}"
        )
    return value


def int_arg(args: Mapping[str, Any], key: str, low: int, high: int) -> int | None:
    value = args.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ProbeInvalid(f"{key} must be an integer from {low} to {high}, got {str(value)[:80]!r}")
    return value


def ip_arg(args: Mapping[str, Any], key: str, required: bool) -> str | None:
    value = args.get(key)
    if value is None:
        if required:
            raise ProbeInvalid(f"{key} is required")
        return None
    try:
        return str(ipaddress.ip_address(value if isinstance(value, str) else ""))
    except ValueError:
        raise ProbeInvalid(f"{key} must be an IPv4 or IPv6 address, got {str(value)[:80]!r}") from None


def mac_arg(args: Mapping[str, Any], key: str) -> str | None:
    value = args.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not MAC_RE.match(value.lower()):
        raise ProbeInvalid(f"{key} must be a MAC address like fa:16:3e:00:00:01, got {str(value)[:80]!r}")
    return value.lower()


def only_args(args: Mapping[str, Any], allowed: Sequence[str]) -> None:
    unknown = sorted(set(args) - set(allowed))
    if unknown:
        raise ProbeInvalid(
            f"unknown argument(s) {', '.join(k[:40] for k in unknown[:5])}; allowed: {', '.join(allowed)}"
        )
