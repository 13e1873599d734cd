"""The ``ovn_trace`` probe (issue 16 item 2, for ML2/OVN clouds): OVN's own answer for a packet.

``ovn-trace --db=<southbound> --detailed <datapath> '<microflow>'`` follows a packet through the
logical flows northd compiled (switch and router pipelines, ACLs, NAT, port security) without sending
anything: read only. The microflow is made here from typed, validated values only (a logical port
name is letters, digits and ``. _ - :``, so it can never close the quotes around it); the datapath is
a separate argv element. Nothing reaches a shell.

Where the southbound database is: the agent's ``ovn_sb_db`` setting, else what this chassis's
ovn-controller uses (``external_ids:ovn-remote`` of the local Open vSwitch database). A host with
neither is not an OVN chassis: the probe says so instead of guessing a socket.

The answer (``parse``, pure): each pipeline (ingress/egress of a datapath) with its stages (table,
stage name, match, priority, flow uuid prefix, actions), every ``output to "PORT"`` in order, the
logical port the packet was finally delivered to (the last output that is not a patch to another
datapath), or the stage where it stopped (dropped). Datapaths are named by their NB uuid and ports by
their whole names (``--no-friendly-names``: ovn-trace would otherwise abbreviate UUID-like names).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

Args = dict[str, Any]
KIND: Final = "ovn_trace"
TRACE = "ovn-trace"
VSCTL = "ovs-vsctl"
ARGS: Final = (
    "datapath",
    "inport",
    "eth_src",
    "eth_dst",
    "ip_src",
    "ip_dst",
    "ip_ttl",
    "proto",
    "tp_src",
    "tp_dst",
    "icmp_type",
    "icmp_code",
    "ct",
)
PROTOS: Final = ("ip", "icmp", "tcp", "udp")
CT_FLAGS: Final = ("trk", "new", "est", "rel", "rpl", "inv", "dnat", "snat")
MAX_CT_STEPS = 4
# OVN logical names as Neutron makes them (neutron-<uuid>, a port's uuid, lrp-<uuid>) and names of the kind.
LOGICAL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
# An OVSDB remote ovn-trace may connect to: unix sockets and plain tcp, one or more, comma separated.
ONE_REMOTE = r"(?:unix:/[A-Za-z0-9_./-]+|tcp:[A-Za-z0-9_.:\[\]-]+)"
REMOTE = re.compile(rf"^{ONE_REMOTE}(?:,{ONE_REMOTE})*$")

PIPELINE = re.compile(r'^(ingress|egress)\(dp="([^"]*)", inport="([^"]*)"(?:, outport="([^"]*)")?\)$')
STAGE = re.compile(r"^\s*(\d+)\. (\S+) \([^)]*\): (.*), priority (\d+), uuid ([0-9a-f]+)$")
OUTPUT = re.compile(r'/\* output to "([^"]*)", type "([^"]*)" \*/')
PATCH = "patch"


class Invalid(ValueError):
    """The probe's arguments are not valid; the message says which and why."""


def _logical(args: Mapping[str, Any], key: str) -> str:
    value = args.get(key)
    if not isinstance(value, str) or not LOGICAL_NAME.match(value):
        raise Invalid(f"{key} must be an OVN logical name (letters, digits, . _ - :), got {str(value)[:80]!r}")
    return value


def _number(args: Mapping[str, Any], key: str, high: int) -> int | None:
    value = args.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise Invalid(f"{key} must be an integer from 0 to {high}, got {str(value)[:80]!r}")
    return value


def _mac(args: Mapping[str, Any], key: str) -> str | None:
    value = args.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not MAC.match(value.lower()):
        raise Invalid(f"{key} must be a MAC address like fa:16:3e:00:00:01, got {str(value)[:80]!r}")
    return value.lower()


def _address(args: Mapping[str, Any], key: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = args.get(key)
    if value is None:
        return None
    try:
        return ipaddress.ip_address(value if isinstance(value, str) else "")
    except ValueError:
        raise Invalid(f"{key} must be an IPv4 or IPv6 address, got {str(value)[:80]!r}") from None


def _ct(value: Any) -> list[list[str]] | None:
    """``ct``: the ct_state each ct_next reports, in order (ovn-trace's default for each: trk,new)."""
    if value is None:
        return None
    shaped = isinstance(value, list) and 0 < len(value) <= MAX_CT_STEPS
    if not shaped or not all(isinstance(step, list) and step for step in value):
        raise Invalid(f"ct must be a list of 1 to {MAX_CT_STEPS} lists of flags ({', '.join(CT_FLAGS)})")
    for step in value:
        if not all(isinstance(flag, str) and flag in CT_FLAGS for flag in step):
            raise Invalid(f"ct flags must be among {', '.join(CT_FLAGS)}, got {str(step)[:80]!r}")
    return [list(dict.fromkeys(step)) for step in value]


def validate(args: Mapping[str, Any]) -> Args:
    """The canonical arguments of an ovn_trace probe; raises Invalid with the reason."""
    unknown = sorted(set(args) - set(ARGS))
    if unknown:
        raise Invalid(f"unknown argument(s) {', '.join(k[:40] for k in unknown[:5])}; allowed: {', '.join(ARGS)}")
    clean: Args = {"datapath": _logical(args, "datapath"), "inport": _logical(args, "inport")}
    clean["eth_src"], clean["eth_dst"] = _mac(args, "eth_src"), _mac(args, "eth_dst")
    src, dst = _address(args, "ip_src"), _address(args, "ip_dst")
    if src and dst and src.version != dst.version:
        raise Invalid("ip_src and ip_dst must be of the same address family")
    proto = args.get("proto")
    if proto is not None and proto not in PROTOS:
        raise Invalid(f"proto must be one of {', '.join(PROTOS)}, got {str(proto)[:40]!r}")
    if proto and not (src or dst):
        raise Invalid("proto needs ip_src or ip_dst (the family of the packet)")
    clean["proto"] = proto or ("ip" if src or dst else None)
    clean["ip_src"], clean["ip_dst"] = (str(a) if a else None for a in (src, dst))
    clean["ip_ttl"] = _number(args, "ip_ttl", 255)
    for key in ("tp_src", "tp_dst"):
        clean[key] = _number(args, key, 65535)
        if clean[key] is not None and proto not in ("tcp", "udp"):
            raise Invalid(f"{key} needs proto tcp or udp")
    for key in ("icmp_type", "icmp_code"):
        clean[key] = _number(args, key, 255)
        if clean[key] is not None and proto != "icmp":
            raise Invalid(f"{key} needs proto icmp")
    clean["ct"] = _ct(args.get("ct"))
    return {key: value for key, value in clean.items() if value is not None}


def microflow(args: Mapping[str, Any]) -> str:
    """The packet in OVN's expression syntax, from validated values only."""
    terms = [f'inport == "{args["inport"]}"']
    for key, field in (("eth_src", "eth.src"), ("eth_dst", "eth.dst")):
        if key in args:
            terms.append(f"{field} == {args[key]}")
    family = next((ipaddress.ip_address(args[k]).version for k in ("ip_src", "ip_dst") if k in args), None)
    if family is not None:
        terms.append(f"ip{family}")
        for key, end in (("ip_src", "src"), ("ip_dst", "dst")):
            if key in args:
                terms.append(f"ip{family}.{end} == {args[key]}")
    if "ip_ttl" in args:
        terms.append(f"ip.ttl == {args['ip_ttl']}")
    proto = args.get("proto")
    if proto == "icmp":
        icmp = f"icmp{family}"
        terms.append(icmp)
        for key, field in (("icmp_type", "type"), ("icmp_code", "code")):
            if key in args:
                terms.append(f"{icmp}.{field} == {args[key]}")
    elif proto in ("tcp", "udp"):
        terms.append(proto)
        for key, end in (("tp_src", "src"), ("tp_dst", "dst")):
            if key in args:
                terms.append(f"{proto}.{end} == {args[key]}")
    return " && ".join(terms)


def argv_of(args: Mapping[str, Any], remote: str) -> list[str]:
    argv = [TRACE, f"--db={remote}", "--detailed", "--no-friendly-names"]  # a UUID-named port kept whole
    argv += [f"--ct={','.join(step)}" for step in args.get("ct", [])]
    return [*argv, args["datapath"], microflow(args)]


def valid_remote(remote: str) -> bool:
    return bool(REMOTE.match(remote))


def local_remote_argv() -> list[str]:
    """The southbound remote this chassis's ovn-controller uses."""
    return [VSCTL, "--timeout=5", "--if-exists", "get", "Open_vSwitch", ".", "external_ids:ovn-remote"]


def remote_of(vsctl_output: str) -> str | None:
    value = vsctl_output.strip().strip('"')
    return value or None


def southbound(configured: str | None, ask: Callable[[Sequence[str]], tuple[int | None, str]]) -> str:
    """The southbound remote to trace against; raises Invalid when there is none or it is not allowed.

    ``ask(argv)`` runs a read-only command and answers (exit status, stdout).
    """
    remote = configured
    if remote is None:
        status, out = ask(local_remote_argv())
        remote = remote_of(out) if status == 0 else None
        if remote is None:
            raise Invalid(
                "this host is not an OVN chassis: no ovn_sb_db in the agent's configuration and no "
                "external_ids:ovn-remote in its Open vSwitch database"
            )
    if not valid_remote(remote):
        raise Invalid(f"southbound remote {remote[:120]!r} is not a unix: or tcp: remote (ssl: is not supported yet)")
    return remote


def _stage(found: re.Match[str]) -> dict[str, Any]:
    table, name, match, priority, uuid = found.groups()
    return {"table": int(table), "stage": name, "match": match, "priority": int(priority), "uuid": uuid, "actions": []}


def parse(output: str) -> dict[str, Any]:
    """ovn-trace --detailed's answer: pipelines, outputs, where the packet went or was dropped."""
    pipelines: list[dict[str, Any]] = []
    outputs: list[dict[str, str | None]] = []
    for raw in output.splitlines():
        line = raw.strip()
        head = PIPELINE.match(line)
        if head:
            direction, datapath, inport, outport = head.groups()
            pipelines.append(
                {"direction": direction, "datapath": datapath, "inport": inport, "outport": outport, "stages": []}
            )
            continue
        stage = STAGE.match(raw)
        if stage and pipelines:
            pipelines[-1]["stages"].append(_stage(stage))
            continue
        out = OUTPUT.search(line)
        if out:
            outputs.append({"port": out.group(1), "type": out.group(2), "datapath": _last_datapath(pipelines)})
        if line and not line.startswith("-") and pipelines and pipelines[-1]["stages"]:
            pipelines[-1]["stages"][-1]["actions"].append(line)
    delivered = [o for o in outputs if o["type"] != PATCH]
    return {
        "pipelines": pipelines,
        "outputs": outputs,
        "delivered_to": delivered[-1]["port"] if delivered else None,
        "dropped_at": None if delivered else _drop(pipelines),
    }


def _last_datapath(pipelines: list[dict[str, Any]]) -> str | None:
    return pipelines[-1]["datapath"] if pipelines else None


def _drop(pipelines: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Where the packet stopped when it reached no port: the last stage met, whose actions end it (``drop;``,
    or a stateful ACL's ``ct_commit { ct_label.blocked = 1; }`` on a connection it now refuses); None when
    the trace met no stage at all. ``explicit``: the stage's last action is ``drop;``."""
    if not pipelines or not pipelines[-1]["stages"]:
        return None
    last = pipelines[-1]["stages"][-1]
    where = pipelines[-1]
    stage = {key: value for key, value in last.items() if key != "actions"}
    explicit = bool(last["actions"]) and last["actions"][-1] == "drop;"
    return {"datapath": where["datapath"], "direction": where["direction"], **stage, "explicit": explicit}
