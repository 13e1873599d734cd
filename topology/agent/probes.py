"""Read-only probes a node agent runs on request: a closed set, typed arguments, argv lists only.

Each probe kind has a validator that turns the request's JSON arguments into
canonical typed values (``validate``) and a builder that turns those into an
argv list (``argv_of``): nothing the dashboard sends is ever passed to a shell
or copied into an argument unparsed. The dashboard validates too, and also
checks names against the host's last report (topology/probes/validate.py);
the agent validates again because it must not trust the channel either.

Kinds:

* ``ofproto_trace``: ``ovs-appctl ofproto/trace <bridge> <flow> [--ct-next <flags>]``
  followed by ``ovs-appctl dpif/show`` to name the datapath ports of the answer;
* ``route_get``: ``ip [-netns NS] route get <dst> [from <src>] [iif <dev>]``;
* ``ip_rule``: ``ip [-netns NS] rule show``;
* ``route_table``: ``ip [-netns NS] route show table <N>``;
* ``neigh_show``: ``ip [-netns NS] neigh show to <ip> [dev <dev>]`` (a router's ARP/ND entry: the MAC of a
  peer outside the cloud, which the path verifier needs to build the packet leaving to it);
* ``iptables_counters``: ``[ip netns exec NS] iptables -w 5 -t <table> -L [<chain>] -v -n -x --line-numbers``
  (read only: the packet and byte counters of each rule; the table one of TABLES, the chain a plain name);
* ``ovn_trace``: ``ovn-trace --db=<southbound> --detailed <datapath> <microflow>`` (topology/agent/ovn_trace.py);
* ``flow_counters`` and ``ping``: an active check's, in topology/agent/counting.py. ``ping`` is the one
  probe that sends a packet: refused unless the agent runs with ``active_probes`` on.

Parsing of the outputs is in topology/agent/probe_parse.py (pure).
"""

from __future__ import annotations

import functools
import ipaddress
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from topology.agent import counting, ovn_trace, probe_parse
from topology.agent.probe_args import (
    MAC_RE,
    NAME_RE,
    NETNS_RE,
    Args,
    ProbeInvalid,
    int_arg,
    ip_arg,
    mac_arg,
    name_arg,
    only_args,
)
from topology.agent.probe_run import MAX_OUTPUT_BYTES, Run, run_bounded

KINDS = (
    "ofproto_trace",
    "route_get",
    "ip_rule",
    "route_table",
    "neigh_show",
    "iptables_counters",
    ovn_trace.KIND,
    *counting.KINDS,
)
DEFAULT_TIMEOUT_S = 10.0
MAX_TIMEOUT_S = 30.0
APPCTL = "ovs-appctl"
IP = "ip"

CT_FLAGS = ("new", "est", "rel", "rpl", "inv", "trk", "snat", "dnat")
PROTOS = ("ip", "icmp", "tcp", "udp", "arp", "ipv6", "icmp6", "tcp6", "udp6")
TABLE_NAMES = {"main": 254, "local": 255, "default": 253}
IPTABLES = "iptables"
TABLES = ("nat", "filter", "mangle", "raw")
# iptables chain names: at most 28 characters, no leading "-" (Neutron's: neutron-l3-agent-PREROUTING).
CHAIN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,27}$")

__all__ = ["MAC_RE", "NAME_RE", "NETNS_RE", "Args", "ProbeInvalid", "Run", "run_bounded"]

TRACE_ARGS = (
    "bridge",
    "in_port",
    "dl_src",
    "dl_dst",
    "dl_vlan",
    "proto",
    "nw_src",
    "nw_dst",
    "nw_ttl",
    "tp_src",
    "tp_dst",
    "icmp_type",
    "icmp_code",
    "tun_id",
    "ct_next",
)


def validate_trace(args: Mapping[str, Any]) -> Args:
    only_args(args, TRACE_ARGS)
    clean: Args = {"bridge": name_arg(args, "bridge", True)}
    in_port = args.get("in_port")
    if isinstance(in_port, str):
        clean["in_port"] = name_arg(args, "in_port", True)
    elif in_port is not None:
        clean["in_port"] = int_arg(args, "in_port", 0, 0xFEFF)
    else:
        raise ProbeInvalid("in_port is required (an OpenFlow port number or a port name on the bridge)")
    for key in ("dl_src", "dl_dst"):
        clean[key] = mac_arg(args, key)
    clean["dl_vlan"] = int_arg(args, "dl_vlan", 0, 4095)
    clean["tun_id"] = int_arg(args, "tun_id", 0, 2**64 - 1)
    proto = args.get("proto")
    if proto is not None and proto not in PROTOS:
        raise ProbeInvalid(f"proto must be one of {', '.join(PROTOS)}, got {str(proto)[:40]!r}")
    clean["proto"] = proto
    clean["nw_src"], clean["nw_dst"] = ip_arg(args, "nw_src", False), ip_arg(args, "nw_dst", False)
    if (clean["nw_src"] or clean["nw_dst"]) and proto in (None, "arp"):
        raise ProbeInvalid("nw_src/nw_dst need proto ip, icmp, tcp, udp (or their IPv6 kinds)")
    v6 = proto in ("ipv6", "icmp6", "tcp6", "udp6")
    for key in ("nw_src", "nw_dst"):
        if clean[key] and (ipaddress.ip_address(clean[key]).version == 6) != v6:
            raise ProbeInvalid(f"{key} {clean[key]} does not match proto {proto}")
    clean["nw_ttl"] = int_arg(args, "nw_ttl", 0, 255)
    for key in ("tp_src", "tp_dst"):
        clean[key] = int_arg(args, key, 0, 65535)
        if clean[key] is not None and proto not in ("tcp", "udp", "tcp6", "udp6"):
            raise ProbeInvalid(f"{key} needs proto tcp or udp")
    for key in ("icmp_type", "icmp_code"):
        clean[key] = int_arg(args, key, 0, 255)
        if clean[key] is not None and proto not in ("icmp", "icmp6"):
            raise ProbeInvalid(f"{key} needs proto icmp or icmp6")
    ct_next = args.get("ct_next")
    if ct_next is not None:
        if not isinstance(ct_next, list) or not ct_next or any(flag not in CT_FLAGS for flag in ct_next):
            raise ProbeInvalid(f"ct_next must be a non-empty list of {', '.join(CT_FLAGS)}")
        clean["ct_next"] = list(dict.fromkeys(ct_next))
    return {key: value for key, value in clean.items() if value is not None}


def validate_route_get(args: Mapping[str, Any]) -> Args:
    only_args(args, ("namespace", "dst", "src", "iif", "mark"))
    clean: Args = {
        "namespace": name_arg(args, "namespace", False, NETNS_RE),
        "dst": ip_arg(args, "dst", True),
        "src": ip_arg(args, "src", False),
        "iif": name_arg(args, "iif", False),
        "mark": int_arg(args, "mark", 0, 2**32 - 1),
    }
    if clean["src"] and ipaddress.ip_address(clean["src"]).version != ipaddress.ip_address(clean["dst"]).version:
        raise ProbeInvalid("src and dst must be of the same address family")
    return {key: value for key, value in clean.items() if value is not None}


def validate_ip_rule(args: Mapping[str, Any]) -> Args:
    only_args(args, ("namespace", "family"))
    family = int_arg(args, "family", 4, 6)
    if family not in (None, 4, 6):
        raise ProbeInvalid("family must be 4 or 6")
    clean = {"namespace": name_arg(args, "namespace", False, NETNS_RE), "family": family}
    return {key: value for key, value in clean.items() if value is not None}


def validate_route_table(args: Mapping[str, Any]) -> Args:
    only_args(args, ("namespace", "table", "family"))
    table = args.get("table")
    if isinstance(table, str) and table in TABLE_NAMES:
        table = TABLE_NAMES[table]
    clean = validate_ip_rule({k: v for k, v in args.items() if k != "table"})
    clean["table"] = int_arg({"table": table}, "table", 0, 2**32 - 1)
    if clean["table"] is None:
        raise ProbeInvalid("table is required (a number, or main, local, default)")
    return clean


def validate_neigh_show(args: Mapping[str, Any]) -> Args:
    only_args(args, ("namespace", "dst", "dev"))
    clean: Args = {
        "namespace": name_arg(args, "namespace", False, NETNS_RE),
        "dst": ip_arg(args, "dst", True),
        "dev": name_arg(args, "dev", False),
    }
    return {key: value for key, value in clean.items() if value is not None}


def validate_iptables_counters(args: Mapping[str, Any]) -> Args:
    only_args(args, ("namespace", "table", "chain"))
    table = args.get("table")
    if table not in TABLES:
        raise ProbeInvalid(f"table must be one of {', '.join(TABLES)}, got {str(table)[:40]!r}")
    chain = args.get("chain")
    if chain is not None and (not isinstance(chain, str) or not CHAIN_RE.match(chain)):
        raise ProbeInvalid(f"chain must be an iptables chain name (letters, digits, . _ -), got {str(chain)[:80]!r}")
    clean: Args = {"namespace": name_arg(args, "namespace", False, NETNS_RE), "table": table, "chain": chain}
    return {key: value for key, value in clean.items() if value is not None}


def validate_flow_counters(args: Mapping[str, Any]) -> Args:
    try:
        return counting.validate_flow_counters(args, name_arg, int_arg)
    except ProbeInvalid:
        raise
    except ValueError as exc:
        raise ProbeInvalid(str(exc)) from None


def validate_ping(args: Mapping[str, Any]) -> Args:
    try:
        return counting.validate_ping(args, functools.partial(name_arg, pattern=NETNS_RE), ip_arg)
    except ProbeInvalid:
        raise
    except ValueError as exc:
        raise ProbeInvalid(str(exc)) from None


def validate_ovn_trace(args: Mapping[str, Any]) -> Args:
    try:
        return ovn_trace.validate(args)
    except ovn_trace.Invalid as exc:
        raise ProbeInvalid(str(exc)) from None


VALIDATORS: dict[str, Callable[[Mapping[str, Any]], Args]] = {
    "ofproto_trace": validate_trace,
    "route_get": validate_route_get,
    "ip_rule": validate_ip_rule,
    "route_table": validate_route_table,
    "neigh_show": validate_neigh_show,
    "iptables_counters": validate_iptables_counters,
    "flow_counters": validate_flow_counters,
    "ping": validate_ping,
    ovn_trace.KIND: validate_ovn_trace,
}


def validate(kind: Any, args: Any) -> Args:
    """The canonical arguments of a probe; raises ProbeInvalid with the reason."""
    if kind not in VALIDATORS:
        raise ProbeInvalid(f"kind must be one of {', '.join(KINDS)}, got {str(kind)[:40]!r}")
    if not isinstance(args, dict):
        raise ProbeInvalid("args must be an object")
    return VALIDATORS[kind](args)


def trace_flow(args: Mapping[str, Any]) -> str:
    """The flow of ofproto/trace in OVS's syntax, made only from validated values."""
    fields = [f"in_port={args['in_port']}"]
    if "proto" in args:
        fields.append(args["proto"])
    if "tun_id" in args:
        fields.append(f"tun_id={args['tun_id']:#x}")
    if "dl_vlan" in args:
        fields.append(f"dl_vlan={args['dl_vlan']}")
    v6 = args.get("proto") in ("ipv6", "icmp6", "tcp6", "udp6")
    for key in ("dl_src", "dl_dst", "nw_src", "nw_dst", "nw_ttl", "tp_src", "tp_dst", "icmp_type", "icmp_code"):
        if key in args:
            name = key.replace("nw_", "ipv6_") if v6 and key in ("nw_src", "nw_dst") else key
            if v6 and key.startswith("icmp_"):
                name = key.replace("icmp_", "icmpv6_")
            fields.append(f"{name}={args[key]}")
    return ",".join(fields)


def ip_prefix(args: Mapping[str, Any]) -> list[str]:
    prefix = [IP]
    if args.get("family"):
        prefix.append(f"-{args['family']}")
    if args.get("namespace"):
        prefix += ["-netns", args["namespace"]]
    return prefix


def argv_of(kind: str, args: Mapping[str, Any]) -> list[str]:
    """The command of a validated probe."""
    if kind in counting.KINDS:
        return counting.argv_of(kind, args)
    if kind == "ofproto_trace":
        argv = [APPCTL, "ofproto/trace", args["bridge"], trace_flow(args)]
        if "ct_next" in args:
            argv += ["--ct-next", ",".join(args["ct_next"])]
        return argv
    if kind == "route_get":
        argv = [*ip_prefix(args), "route", "get", args["dst"]]
        for key, word in (("src", "from"), ("iif", "iif"), ("mark", "mark")):
            if key in args:
                argv += [word, str(args[key])]
        return argv
    if kind == "ip_rule":
        return [*ip_prefix(args), "rule", "show"]
    if kind == "route_table":
        return [*ip_prefix(args), "route", "show", "table", str(args["table"])]
    if kind == "neigh_show":
        argv = [*ip_prefix(args), "neigh", "show", "to", args["dst"]]
        return argv + (["dev", args["dev"]] if "dev" in args else [])
    if kind == "iptables_counters":
        argv = [IP, "netns", "exec", args["namespace"]] if args.get("namespace") else []
        argv += [IPTABLES, "-w", "5", "-t", args["table"], "-L"]
        argv += [args["chain"]] if "chain" in args else []
        return [*argv, "-v", "-n", "-x", "--line-numbers"]
    raise ProbeInvalid(f"unknown kind {kind!r}")


def run_probe(
    kind: Any,
    raw_args: Any,
    timeout: float = DEFAULT_TIMEOUT_S,
    runner: Callable[[Sequence[str], float], Run] = run_bounded,
    allow_active: bool = False,
    ovn_sb_db: str | None = None,
) -> dict[str, Any]:
    """Validate, run and parse one probe; always a result dict (``ok`` false with ``error`` when it failed).

    ``allow_active``: the agent's ``active_probes`` setting; without it a probe that sends is refused.
    ``ovn_sb_db``: its ``ovn_sb_db`` setting (an ovn_trace's southbound; None: the chassis's own).
    """
    try:
        args = validate(kind, raw_args)
    except ProbeInvalid as exc:
        return {"ok": False, "error": f"invalid probe: {exc}", "invalid": True}
    if kind in counting.ACTIVE_KINDS and not allow_active:
        return {"ok": False, "error": "this agent sends no packets: active_probes is off in its configuration",
                "refused": True}  # fmt: skip
    timeout = min(max(float(timeout), 0.1), MAX_TIMEOUT_S)
    deadline = time.monotonic() + timeout
    if kind == ovn_trace.KIND:
        try:
            argv = ovn_trace.argv_of(args, ovn_trace.southbound(ovn_sb_db, lambda cmd: _ask(runner, cmd, timeout)))
        except ovn_trace.Invalid as exc:
            return {"ok": False, "error": str(exc), "not_ovn": True}
    else:
        argv = argv_of(kind, args)
    run = runner(argv, timeout)
    lost = kind == "ping" and run.exit_status == 1  # no reply: an answer, not a failure
    result: dict[str, Any] = {
        "ok": run.exit_status == 0 or lost,
        "argv": run.argv,
        "exit_status": run.exit_status,
        "output": run.output,
        "stderr": run.errors,
        "timed_out": run.timed_out,
        "truncated": run.truncated,
        "duration_ms": run.duration_ms,
    }
    if run.timed_out:
        result["error"] = f"{run.argv[0]} did not answer within {timeout:g} s"
    elif run.truncated:
        result["error"] = f"output larger than {MAX_OUTPUT_BYTES} bytes: cut"
    elif run.exit_status != 0 and not lost:
        result["error"] = (run.errors.strip() or run.output.strip() or f"exit status {run.exit_status}")[:2000]
    else:
        result["parsed"] = parse(kind, args, run.output, deadline, runner)
    return result


def _ask(runner: Callable[[Sequence[str], float], Run], argv: Sequence[str], timeout: float) -> tuple[int | None, str]:
    run = runner(argv, min(timeout, 5.0))
    return run.exit_status, run.output


def parse(
    kind: str, args: Mapping[str, Any], output: str, deadline: float, runner: Callable[[Sequence[str], float], Run]
) -> dict[str, Any]:
    if kind in counting.KINDS:
        parsed = counting.parse(kind, output)
        for argv in counting.more(args) if kind == "flow_counters" else []:
            left = deadline - time.monotonic()
            run = runner(argv, left) if left > 0 else None
            if run is None or run.exit_status != 0:
                parsed["incomplete"] = f"{' '.join(argv[-2:])}: {'no time left' if run is None else run.errors[:200]}"
                break
            parsed["flows"] += counting.parse(kind, run.output)["flows"]
        return parsed
    if kind == ovn_trace.KIND:
        return ovn_trace.parse(output)
    if kind == "ofproto_trace":
        trace = probe_parse.parse_trace(output)
        # Datapath port numbers are not OpenFlow ports: dpif/show names them.
        left = deadline - time.monotonic()
        if (trace["outputs"] or trace["tunnels"]) and left > 0:
            ports = runner([APPCTL, "dpif/show"], left)
            if ports.exit_status == 0:
                names = probe_parse.parse_dpif_show(ports.output)
                trace["outputs"] = [probe_parse.name_output(out, names) for out in trace["outputs"]]
                every = probe_parse.dpif_ports(ports.output)
                trace["tunnels"] = [probe_parse.name_tunnel(out, every) for out in trace["tunnels"]]
        return dict(trace)
    if kind == "route_get":
        return dict(probe_parse.parse_route_get(output))
    if kind == "ip_rule":
        return {"rules": probe_parse.parse_ip_rule(output)}
    if kind == "neigh_show":
        return {"neighbours": probe_parse.parse_neighbours(output)}
    if kind == "iptables_counters":
        return {"chains": probe_parse.parse_iptables_counters(output)}
    return {"routes": probe_parse.parse_routes(output)}
