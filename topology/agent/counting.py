"""The probes of an active check (issue 16 item 4): a flow table's counters, and one real ping.

* ``flow_counters`` (read only): ``ovs-ofctl -O <the bridge's protocols> dump-flows <bridge> [table=N]``
  (the versions the report's dump used, so that the lines read alike; every version when none is given); each
  flow's match and actions (its ``key``: the line without cookie, duration, counters and ages) with its
  ``n_packets`` and ``cookie``. With ``cookies`` (up to MAX_COOKIES), one dump per cookie
  (``cookie=0x../-1``): an OVN walk's logical flows found on a chassis's br-int.
  Read before and after a real packet, the flows that moved are the ones it met.
* ``ping`` (sends one packet): ``ip netns exec <namespace> ping -c 1 -W 2 -n -4|-6 <dst>``. An agent
  sends it only when its configuration says ``active_probes = true``; the dashboard asks only for an
  admin, from a namespace the host reported. A ping without a reply is an answer (``answered`` false),
  not an error.

Validation is the same kind as topology/agent/probes.py's: typed values, argv lists, no shell.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any, Final

from topology.agent.flows import FALLBACK_PROTOCOLS, OFCTL

Args = dict[str, Any]
ACTIVE_KINDS: Final = ("ping",)
READ_KINDS: Final = ("flow_counters",)
KINDS: Final = READ_KINDS + ACTIVE_KINDS
PING_WAIT_S: Final = 2
# What a flow line says that changes without the flow changing: left out of its key.
VOLATILE = re.compile(r"\b(?:cookie|duration|n_packets|n_bytes|idle_age|hard_age|idle_timeout_left)=[^,\s]*,?\s*")
N_PACKETS = re.compile(r"\bn_packets=(\d+)")
COOKIE = re.compile(r"\bcookie=0x([0-9a-fA-F]+)")
# An OVN walk's flows by cookie: ovn-controller sets each OpenFlow flow's cookie to the first 32 bits of the
# SB Logical_Flow it comes from (ovn-trace prints them as the flow's uuid); one dump per cookie.
MAX_COOKIES: Final = 48
OPENFLOW = re.compile(r"^OpenFlow1[0-5]$")


def flow_key(line: str) -> str:
    """A flow's identity across dumps: its table, priority, match and actions."""
    return " ".join(VOLATILE.sub("", line).replace(", ", ",").split())


def packets(line: str) -> int | None:
    found = N_PACKETS.search(line)
    return int(found.group(1)) if found else None


def only(args: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(args) - set(allowed))
    if unknown:
        raise ValueError(f"unknown argument(s) {', '.join(k[:40] for k in unknown[:5])}; allowed: {', '.join(allowed)}")


def validate_flow_counters(args: Mapping[str, Any], name: Any, number: Any) -> Args:
    """``name(args, key, required)`` and ``number(args, key, low, high)`` are probes.py's checks."""
    only(args, ("bridge", "table", "protocols", "cookies"))
    clean: Args = {"bridge": name(args, "bridge", True), "table": number(args, "table", 0, 254)}
    cookies = args.get("cookies")
    if cookies is not None:
        if not isinstance(cookies, list) or not 1 <= len(cookies) <= MAX_COOKIES:
            raise ValueError(f"cookies must be a list of 1 to {MAX_COOKIES} flow cookies")
        clean["cookies"] = list(dict.fromkeys(number({"cookie": c}, "cookie", 0, 2**64 - 1) for c in cookies))
    protocols = args.get("protocols")
    if protocols is not None:
        if (
            not isinstance(protocols, list)
            or not protocols
            or not all(isinstance(p, str) and OPENFLOW.match(p) for p in protocols)
        ):
            raise ValueError("protocols must be a non-empty list of OpenFlow10 ... OpenFlow15")
        clean["protocols"] = list(dict.fromkeys(protocols))
    return {key: value for key, value in clean.items() if value is not None}


def validate_ping(args: Mapping[str, Any], netns: Any, address: Any) -> Args:
    only(args, ("namespace", "dst"))
    return {"namespace": netns(args, "namespace", True), "dst": address(args, "dst", True)}


def argv_of(kind: str, args: Mapping[str, Any], cookie: int | None = None) -> list[str]:
    """The command; with ``cookies``, the dump of the first (``cookie``: of that one), the others by ``more``."""
    if kind == "flow_counters":
        versions = ",".join(args["protocols"]) if "protocols" in args else FALLBACK_PROTOCOLS
        argv = [OFCTL, "-O", versions, "dump-flows", args["bridge"]]
        match = [f"table={args['table']}"] if "table" in args else []
        if "cookies" in args:
            match.append(f"cookie={cookie if cookie is not None else args['cookies'][0]:#x}/-1")
        return argv + ([",".join(match)] if match else [])
    family = "-6" if ipaddress.ip_address(args["dst"]).version == 6 else "-4"
    return ["ip", "netns", "exec", args["namespace"], "ping", "-c", "1", "-W", str(PING_WAIT_S), "-n", family,
            args["dst"]]  # fmt: skip


def more(args: Mapping[str, Any]) -> list[list[str]]:
    """The dumps of a flow_counters probe after its first: one per further cookie (ovs-ofctl takes one)."""
    return [argv_of("flow_counters", args, cookie) for cookie in args.get("cookies", [])[1:]]


def parse(kind: str, output: str) -> dict[str, Any]:
    if kind == "flow_counters":
        flows = []
        for line in output.splitlines():
            line = line.strip()
            count = packets(line)
            if count is not None:
                cookie = COOKIE.search(line)
                flows.append({"key": flow_key(line), "n_packets": count,
                              "cookie": int(cookie.group(1), 16) if cookie else 0})  # fmt: skip
        return {"flows": flows}
    return {"answered": " 0% packet loss" in output, "summary": " ".join(output.strip().splitlines()[-2:])[:300]}
