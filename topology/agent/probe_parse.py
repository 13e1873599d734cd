"""Pure parsers of the probes' outputs (tests/data/probes/ holds real ones captured from the lab).

* ``ovs-appctl ofproto/trace``: the bridges crossed, the final flow, the
  megaflow and the datapath actions, split at top-level commas; the plain
  numbers among them are datapath output ports, named by ``dpif/show``;
* ``ovs-appctl dpif/show``: datapath port number -> (bridge, port, OpenFlow port);
* ``ip route get``: dst, dev, via, src and the rest of the key/value words;
* ``ip rule``: priority, selector and action of each rule;
* ``ip route show``: one route per line, dst first then key/value words;
* ``ip neigh show``: address, dev, lladdr and state of each entry;
* ``iptables -L -v -n -x --line-numbers``: per chain, each rule's number, packet and byte counters,
  target, match columns and the rest of the line (``to:10.0.0.5``).

A trace whose packet leaves by a tunnel port (userspace datapath: ``tnl_push(tnl_port(N),header(...
vxlan(...,vni=0x..)),out_port(M))``) lists it under ``tunnels`` (the datapath port of the tunnel, the VNI
and the outer addresses); the datapath outputs after a ``tnl_push`` are the underlay's (br-phy), kept
apart as ``underlay``: the overlay leaves by the tunnel. A ``clone(...)`` (a flood that sends a copy by a
tunnel) is read on its own: the ports after it are the overlay's again.
"""

from __future__ import annotations

import re
from typing import Any, TypedDict


class TraceOutput(TypedDict, total=False):
    dp_port: int
    bridge: str
    port: str
    ofport: int


class TraceTunnel(TypedDict, total=False):
    dp_port: int
    bridge: str
    port: str
    ofport: int
    vni: int
    local_ip: str
    remote_ip: str


class Trace(TypedDict):
    bridges: list[str]
    final_flow: str | None
    megaflow: str | None
    datapath_actions: str | None
    actions: list[str]
    outputs: list[TraceOutput]
    tunnels: list[TraceTunnel]
    underlay: list[TraceOutput]
    dropped: bool
    conntrack: bool  # the packet met ct(): without --ct-next the trace stops at the recirculation


BRIDGE_RE = re.compile(r'^bridge\("([^"]+)"\)\s*$')
DPIF_PORT_RE = re.compile(r"^\s+(\S+) (\d+|none)/(\d+|none):")
DPIF_BRIDGE_RE = re.compile(r"^  (\S+):\s*$")
TNL_PORT_RE = re.compile(r"^tnl_push\(tnl_port\((\d+)\)")
VNI_RE = re.compile(r"(?:vxlan|geneve|gre)\([^)]*?(?:vni|key)=(0x[0-9a-fA-F]+|\d+)")
OUTER_IPV4_RE = re.compile(r"ipv[46]\(src=([0-9a-fA-F.:]+),dst=([0-9a-fA-F.:]+)")


def split_actions(text: str) -> list[str]:
    """Datapath actions split at commas outside parentheses: ``ct(commit,zone=1),recirc(0x1)`` is two."""
    actions: list[str] = []
    depth, start = 0, 0
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        elif char == "," and depth == 0:
            actions.append(text[start:index].strip())
            start = index + 1
    tail = text[start:].strip()
    if tail:
        actions.append(tail)
    return [action for action in actions if action]


def parse_trace(text: str) -> Trace:
    bridges: list[str] = []
    final_flow = megaflow = datapath = None
    for line in text.splitlines():
        match = BRIDGE_RE.match(line.strip())
        if match:
            if match.group(1) not in bridges:
                bridges.append(match.group(1))
        elif line.startswith("Final flow: "):
            final_flow = line[len("Final flow: ") :].strip()
        elif line.startswith("Megaflow: "):
            megaflow = line[len("Megaflow: ") :].strip()
        elif line.startswith("Datapath actions: "):
            datapath = line[len("Datapath actions: ") :].strip()  # the last one wins: after --ct-next
    actions = split_actions(datapath or "")
    outputs: list[TraceOutput] = []
    tunnels: list[TraceTunnel] = []
    underlay: list[TraceOutput] = []
    read_actions(actions, outputs, tunnels, underlay)
    return {
        "bridges": bridges,
        "final_flow": final_flow,
        "megaflow": megaflow,
        "datapath_actions": datapath,
        "actions": actions,
        "outputs": outputs,
        "tunnels": tunnels,
        "underlay": underlay,
        "dropped": actions == ["drop"]
        or (
            datapath is not None
            and not outputs
            and not tunnels
            and not any(a.startswith(("ct(", "recirc(", "userspace(", "tnl_push(", "clone(")) for a in actions)
        ),
        "conntrack": any(action.startswith("ct(") for action in actions),
    }


def read_actions(
    actions: list[str], outputs: list[TraceOutput], tunnels: list[TraceTunnel], underlay: list[TraceOutput]
) -> None:
    """Outputs, tunnels and underlay outputs of a list of datapath actions. The outputs after a ``tnl_push``
    are the underlay's; a ``clone(...)`` is read the same way on its own (a flood to a tunnel and to local
    ports: ``clone(tnl_push(...),3),7`` leaves by the tunnel, with 3 its underlay, and by the local port 7)."""
    pushed = False
    for action in actions:
        if action.startswith("clone(") and action.endswith(")"):
            read_actions(split_actions(action[len("clone(") : -1]), outputs, tunnels, underlay)
        elif TNL_PORT_RE.match(action):
            tunnels.append(tunnel_of(action))
            pushed = True
        elif action.isdigit():
            (underlay if pushed else outputs).append({"dp_port": int(action)})


def tunnel_of(action: str) -> TraceTunnel:
    """``tnl_push(tnl_port(16),header(...ipv4(src=..,dst=..)...vxlan(flags=..,vni=0xc)),out_port(3))``."""
    match = TNL_PORT_RE.match(action)
    assert match is not None
    tunnel: TraceTunnel = {"dp_port": int(match.group(1))}
    vni = VNI_RE.search(action)
    if vni:
        tunnel["vni"] = int(vni.group(1), 0)
    outer = OUTER_IPV4_RE.search(action)
    if outer:
        tunnel["local_ip"], tunnel["remote_ip"] = outer.group(1), outer.group(2)
    return tunnel


def name_tunnel(tunnel: TraceTunnel, ports: list[TraceOutput]) -> TraceTunnel:
    """The tunnel's datapath port named: the OpenFlow port of ``remote_ip`` among the tunnel ports that share it
    (every vxlan port of a userspace datapath is the one vxlan_sys port), by its name ``vxlan-<remote hex>``."""
    named: TraceTunnel = {**tunnel}
    shared = [p for p in ports if p["dp_port"] == tunnel["dp_port"]]
    remote = tunnel.get("remote_ip")
    if remote and ":" not in remote:
        hexed = "".join(f"{int(part):02x}" for part in remote.split("."))
        shared = [p for p in shared if p.get("port", "").endswith(hexed)] or shared
    if len(shared) == 1:
        for key in ("bridge", "port", "ofport"):
            if key in shared[0]:
                named[key] = shared[0][key]
    return named


def dpif_ports(text: str) -> list[TraceOutput]:
    """Every port of ``ovs-appctl dpif/show`` with a datapath number (tunnel ports may share one)."""
    ports: list[TraceOutput] = []
    bridge = None
    for line in text.splitlines():
        bridge_match = DPIF_BRIDGE_RE.match(line)
        if bridge_match:
            bridge = bridge_match.group(1)
            continue
        match = DPIF_PORT_RE.match(line)
        if match and bridge is not None and match.group(3) != "none":
            entry: TraceOutput = {"dp_port": int(match.group(3)), "bridge": bridge, "port": match.group(1)}
            if match.group(2) != "none":
                entry["ofport"] = int(match.group(2))
            ports.append(entry)
    return ports


def parse_dpif_show(text: str) -> dict[int, TraceOutput]:
    """Datapath port number -> where it is, from ``ovs-appctl dpif/show``."""
    return {entry["dp_port"]: entry for entry in dpif_ports(text)}


def name_output(output: TraceOutput, ports: dict[int, TraceOutput]) -> TraceOutput:
    return ports.get(output["dp_port"], output)


# Words of `ip route` output that take a value; the others (onlink, linkdown, cache...) are flags.
VALUED = {
    "dev",
    "via",
    "src",
    "from",
    "iif",
    "oif",
    "table",
    "proto",
    "scope",
    "metric",
    "uid",
    "mark",
    "mtu",
    "expires",
    "realm",
    "realms",
    "tos",
    "pref",
    "advmss",
    "hoplimit",
    "error",
    "nhid",
    "weight",
    "rto_min",
    "ipid",
    "age",
    "users",
    "used",
    "initcwnd",
    "initrwnd",
    "quickack",
    "features",
}
ROUTE_TYPES = {
    "unicast",
    "local",
    "broadcast",
    "multicast",
    "throw",
    "unreachable",
    "prohibit",
    "blackhole",
    "nat",
    "anycast",
}


def _words(words: list[str]) -> tuple[dict[str, str], list[str]]:
    values: dict[str, str] = {}
    flags: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        if word in VALUED and index + 1 < len(words):
            values.setdefault(word, words[index + 1])
            index += 2
        else:
            flags.append(word)
            index += 1
    return values, flags


def _route(words: list[str]) -> dict[str, Any]:
    route_type = None
    if words and words[0] in ROUTE_TYPES:
        route_type, words = words[0], words[1:]
    if not words:
        return {}
    values, flags = _words(words[1:])
    route: dict[str, Any] = {
        "dst": words[0],
        "dev": values.get("dev"),
        "via": values.get("via"),
        "src": values.get("src"),
        "type": route_type or "unicast",
    }
    for key in ("from", "iif", "table", "proto", "scope", "metric", "mark"):
        if key in values:
            route[key] = values[key]
    if flags:
        route["flags"] = flags
    return route


def parse_route_get(text: str) -> dict[str, Any]:
    """``ip route get``: the first route; its continuation lines (``cache ...``) are part of it."""
    words = " ".join(line.strip() for line in text.splitlines() if line.strip()).split()
    return _route(words) or {"dst": None, "dev": None, "via": None, "src": None, "type": None}


def parse_routes(text: str) -> list[dict[str, Any]]:
    routes: list[dict[str, Any]] = []
    for line in text.splitlines():
        if line.startswith((" ", "\t")) and routes:  # nexthop lines of a multipath route
            routes[-1].setdefault("nexthops", []).append(_words(line.split())[0])
            continue
        route = _route(line.split())
        if route:
            routes.append(route)
    return routes


def parse_ip_rule(text: str) -> list[dict[str, Any]]:
    """``ip rule``: ``<prio>:\\t<selector...> <action> <arg>``."""
    rules = []
    for line in text.splitlines():
        priority, _, rest = line.partition(":")
        if not priority.strip().isdigit():
            continue
        words = rest.split()
        rule: dict[str, Any] = {"priority": int(priority), "from": None, "to": None, "table": None, "action": None}
        index = 0
        while index < len(words):
            word = words[index]
            value = words[index + 1] if index + 1 < len(words) else None
            if word in ("from", "to", "iif", "oif", "fwmark", "lookup", "table", "goto", "tos", "pref"):
                key = {"lookup": "table"}.get(word, word)
                rule[key] = value if not (word in ("from", "to") and value == "all") else None
                if word in ("lookup", "table", "goto"):
                    rule["action"] = "lookup" if word != "goto" else "goto"
                index += 2
            else:
                if word in ("blackhole", "unreachable", "prohibit", "nop"):
                    rule["action"] = word
                index += 1
        rules.append(rule)
    return rules


NEIGH_STATES = {"PERMANENT", "NOARP", "REACHABLE", "STALE", "NONE", "INCOMPLETE", "DELAY", "PROBE", "FAILED"}


def parse_neighbours(text: str) -> list[dict[str, Any]]:
    """``ip neigh show``: ``<addr> [dev <dev>] [lladdr <mac>] [router] <STATE>`` per line."""
    entries = []
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        values, flags = _words(words[1:])
        lladdr = None
        if "lladdr" in flags:
            at = words.index("lladdr")
            lladdr = words[at + 1].lower() if at + 1 < len(words) else None
        state = next((w for w in words[1:] if w in NEIGH_STATES), None)
        entries.append({"dst": words[0], "dev": values.get("dev"), "lladdr": lladdr, "state": state})
    return entries


CHAIN_HEADER_RE = re.compile(r"^Chain (\S+) \((.*)\)\s*$")
IPTABLES_OPTS = ("--", "-f", "!f")
RULE_COLUMNS = ("num", "packets", "bytes", "target", "prot", "opt", "in", "out", "source", "destination")


def parse_iptables_counters(text: str) -> dict[str, list[dict[str, Any]]]:
    """``iptables -L -v -n -x --line-numbers``: chain -> its rules, each with its counters and columns.

    A rule line is ``num pkts bytes target prot opt in out source destination [extra...]``; a rule with no
    target (counting only) has one column fewer: its opt column (``--``) comes fifth.
    """
    chains: dict[str, list[dict[str, Any]]] = {}
    chain = None
    for line in text.splitlines():
        header = CHAIN_HEADER_RE.match(line)
        if header:
            chain = header.group(1)
            chains[chain] = []
            continue
        words = line.split()
        if chain is None or len(words) < 9 or not all(w.isdigit() for w in words[:3]):
            continue
        if words[4] in IPTABLES_OPTS and words[5] not in IPTABLES_OPTS:
            words.insert(3, "")  # no target: the rule only counts
        rule: dict[str, Any] = dict(zip(RULE_COLUMNS, words[:10]))  # no strict=: the agent runs on Python 3.9
        rule["num"], rule["packets"], rule["bytes"] = int(words[0]), int(words[1]), int(words[2])
        rule["extra"] = " ".join(words[10:])
        chains[chain].append(rule)
    return chains
