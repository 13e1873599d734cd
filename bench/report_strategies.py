"""Hypothesis strategies for node agent reports: valid, near-valid and hostile POST bodies.

A case is a :class:`Case`: the raw body an agent (or an attacker holding a host
token) could send to ``POST /api/v1/agents/report/``, its headers and a label
saying which family it is from. The reports are shaped on a small synthetic
cloud (bench/synthetic.py): the fuzzed host is ``FUZZ_HOST``, and hostile ones
claim ``STEADY_HOST``'s tunnel IP, namespaces and devices.
"""

from __future__ import annotations

import copy
import gzip
import ipaddress
from dataclasses import dataclass, field
from typing import Any

import orjson
from hypothesis import strategies as st

from bench.synthetic import synthetic_cloud
from topology.scheduling import DHCP_SCHEDULE_KEY, L3_SCHEDULE_KEY

JsonDict = dict[str, Any]
STEADY_HOST, FUZZ_HOST = "compute0000", "compute0001"


def fuzz_cloud() -> tuple[JsonDict, dict[str, JsonDict]]:
    """The cloud and the two hosts' reports the cases are made on (valid: every namespace has iptables)."""
    cloud, reports = synthetic_cloud(hosts=2, ports=6, projects=2, network_nodes=1, tunnel_peers=2)
    for report in reports.values():
        for namespace in report["namespaces"]:
            namespace["iptables"] = namespace.get("iptables") or {"nat": "", "filter": ""}
    # Neutron scheduled every router and network to the steady host: the fuzzed host's claims are claims
    cloud[L3_SCHEDULE_KEY] = [
        {
            "agent_id": "l3",
            "host": STEADY_HOST,
            "agent_mode": "legacy",
            "router_ids": [r["id"] for r in cloud["routers"]],
        }
    ]
    cloud[DHCP_SCHEDULE_KEY] = [
        {"agent_id": "dhcp", "host": STEADY_HOST, "network_ids": [n["id"] for n in cloud["networks"]]}
    ]
    return cloud, reports


CLOUD, REPORTS = fuzz_cloud()
STEADY_TUNNEL_IP: str = REPORTS[STEADY_HOST]["tunnel_ip"]


@dataclass(frozen=True)
class Case:
    label: str  # family/what, e.g. "hostile/deep"
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- pieces

# any text JSON can carry (NUL and lone surrogates included: a hostile agent may send them)
any_text = st.text(max_size=12)
names = st.one_of(
    st.sampled_from(["lo", "eth0", "br-int", "br-tun", "br-ex", "qbr", "tap", "qvo-", "ovs-system"]),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=16),
)
steady_names = st.sampled_from(
    sorted({i["name"] for i in REPORTS[STEADY_HOST]["interfaces"]} | {"br-int", "br-tun", "patch-tun", "patch-int"})
)
steady_namespaces = st.sampled_from([ns["name"] for ns in REPORTS[STEADY_HOST]["namespaces"]])
port_ids = st.sampled_from([p["id"] for p in CLOUD["ports"]])
ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)
cidrs = st.builds(
    lambda ip, plen: str(ipaddress.ip_interface(f"{ip}/{plen}")), st.ip_addresses(v=4), st.integers(0, 32)
) | st.builds(lambda ip, plen: f"{ip}/{plen}", st.ip_addresses(v=6), st.integers(0, 128))
json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.floats(allow_nan=False) | any_text
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3), max_leaves=8
)


def interface(name: st.SearchStrategy[str] = names) -> st.SearchStrategy[JsonDict]:
    return st.fixed_dictionaries(
        {
            "name": name,
            "kind": st.sampled_from(["veth", "tap", "bridge", "ovs-internal", "vxlan", "physical", "loopback"]),
            "mac": st.none() | st.just("fa:16:3e:00:00:01"),
            "mtu": st.none() | st.integers(68, 9000),
            "state": st.sampled_from(["UP", "DOWN", "UNKNOWN", None, "up"]),
            "addresses": st.lists(cidrs, max_size=2),
            "master": st.none() | names,
            "peer": st.none() | names,
            "peer_netns": st.none() | names,
        }
    )


routes = st.fixed_dictionaries(
    {
        "dst": cidrs,
        "gateway": st.none() | ipv4 | ipv6,
        "dev": st.none() | names,
        "table": st.sampled_from([254, 255, 16, 1000]),
        "src": st.none() | ipv4,
    }
)
rules = st.fixed_dictionaries(
    {
        "priority": st.integers(0, 32767),
        "from": st.none() | cidrs,
        "to": st.none() | cidrs,
        "table": st.sampled_from([254, 16]),
        "iif": st.none() | names,
        "oif": st.none(),
    }
)
namespace_names = st.one_of(
    st.builds(lambda p, ref: p + ref, st.sampled_from(["qrouter-", "snat-", "fip-", "qdhcp-", "vm-"]), any_text),
    st.builds(lambda r: f"qrouter-{r['id']}", st.sampled_from(CLOUD["routers"])),
    st.builds(lambda n: f"qdhcp-{n['id']}", st.sampled_from(CLOUD["networks"])),
    names,
).filter(lambda n: bool(n) and "/" not in n and n not in (".", "..") and len(n) <= 255)


def namespace(name: st.SearchStrategy[str] = namespace_names) -> st.SearchStrategy[JsonDict]:
    return st.fixed_dictionaries(
        {
            "name": name,
            "interfaces": st.lists(interface(), max_size=3),
            "routes": st.lists(routes, max_size=2),
            "rules": st.lists(rules, max_size=2),
            "iptables": st.fixed_dictionaries({"nat": st.sampled_from(["", "*nat\nCOMMIT\n"]), "filter": st.just("")}),
        },
        # optional (agents from issue 19 on, where ip6tables-save is installed)
        optional={
            "ip6tables": st.fixed_dictionaries(
                {
                    "nat": st.just(""),
                    "filter": st.sampled_from(["", "*filter\n-A INPUT -p ipv6-icmp -j ACCEPT\nCOMMIT\n"]),
                }
            )
        },
    )


ovs_interfaces = st.fixed_dictionaries(
    {
        "name": names,
        "type": st.sampled_from(["", "internal", "patch", "vxlan"]),
        "options": st.dictionaries(st.sampled_from(["peer", "remote_ip", "local_ip", "key"]), ipv4 | names, max_size=2),
        "external_ids": st.dictionaries(st.sampled_from(["iface-id", "attached-mac"]), port_ids | names, max_size=2),
        "ofport": st.none() | st.integers(-1, 65535),
    }
)
ovs_ports = st.fixed_dictionaries(
    {"name": names, "tag": st.none() | st.integers(0, 4095), "interfaces": st.lists(ovs_interfaces, max_size=2)}
)
bridges = st.fixed_dictionaries(
    {
        "name": names,
        "datapath_type": st.sampled_from(["netdev", "system", ""]),
        "fail_mode": st.none() | st.just("secure"),
        "ports": st.lists(ovs_ports, max_size=3),
    }
)


@st.composite
def valid_reports(draw: st.DrawFn, host: str = FUZZ_HOST) -> JsonDict:
    """The fuzzed host's synthetic report with generated interfaces, namespaces and bridges added."""
    report = copy.deepcopy(REPORTS[host])
    report["collected_at"] = draw(st.sampled_from(["2026-11-21T09:00:00Z", "2026-12-02T10:00:00.5+09:00"]))
    report["tunnel_ip"] = draw(st.sampled_from([report["tunnel_ip"], None]) | ipv4)
    report["interfaces"] += draw(st.lists(interface(), max_size=4))
    taken = {ns["name"] for ns in report["namespaces"]}
    extra = draw(st.lists(namespace(), max_size=3, unique_by=lambda ns: ns["name"]))
    report["namespaces"] += [ns for ns in extra if ns["name"] not in taken]
    report["ovs"]["bridges"] += draw(st.lists(bridges, max_size=2))
    if draw(st.booleans()):
        report["agent"] = {"version": draw(any_text), "extra": draw(json_values)}  # unknown fields are kept
    return report


def encode(report: object) -> bytes:
    return orjson.dumps(report, option=orjson.OPT_NON_STR_KEYS)


# --------------------------------------------------------------------------- near-valid


def paths_in(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``value`` (keys and indexes)."""
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths_in(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += paths_in(item, (*path, i))
    return found


def set_at(report: Any, path: tuple[Any, ...], value: Any) -> None:
    target = report
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value


@st.composite
def near_valid_cases(draw: st.DrawFn) -> Case:
    report = draw(valid_reports())
    how = draw(st.sampled_from(["wrong-type", "drop-key", "duplicate-namespace", "version", "timestamp", "tag"]))
    if how == "wrong-type":
        path = draw(st.sampled_from(paths_in(report)[1:]))
        set_at(report, path, draw(json_values))
    elif how == "drop-key":
        report.pop(draw(st.sampled_from(sorted(report))))
    elif how == "duplicate-namespace" and report["namespaces"]:
        report["namespaces"].append(copy.deepcopy(draw(st.sampled_from(report["namespaces"]))))
    elif how == "version":
        report["version"] = draw(st.sampled_from([0, 2, "1", True, 1.0]))
    elif how == "timestamp":
        stamps = ["", "yesterday", "2026-11-21T09:00:00", "0001-01-01T00:00:00-23:59", "9999-12-31T23:59:59+23:59"]
        report["collected_at"] = draw(st.sampled_from(stamps) | any_text)
    else:
        report["ovs"]["bridges"][0]["ports"][0]["tag"] = draw(st.sampled_from([-1, 4096, "1", 1.5]))
    return Case(f"near-valid/{how}", encode(report))


# --------------------------------------------------------------------------- hostile


# 40 MB of zeros in 40 KB: inflated past MAX_REPORT_BYTES
GZIP_BOMB = gzip.compress(b"0" * 40_000_000)


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for i in range(depth):
        value = {"x": value} if i % 2 else [value]
    return value


@st.composite
def hostile_cases(draw: st.DrawFn) -> Case:
    report = draw(valid_reports())
    how = draw(
        st.sampled_from(
            ["deep", "huge-string", "unknown-bulk", "claims-steady", "raw", "gzip", "not-object", "wrong-host", "names"]
        )
    )
    headers: dict[str, str] = {}
    if how == "deep":
        containers = [p for p in paths_in(report) if isinstance(_get(report, p), dict)]
        where = _get(report, draw(st.sampled_from(containers)))
        where["extra"] = nested(draw(st.integers(14, 400)))
    elif how == "huge-string":
        size = draw(st.sampled_from([300, 70_000, 2_000_000]))
        text = draw(st.sampled_from(["a", "é", "\U0001f600", ":"])) * size
        where = draw(st.sampled_from(["name", "unknown", "iptables", "ip6tables", "host"]))
        if where == "name" and report["interfaces"]:
            report["interfaces"][0]["name"] = text
        elif where == "iptables" and report["namespaces"]:
            report["namespaces"][0]["iptables"]["nat"] = text
        elif where == "ip6tables" and report["namespaces"]:
            report["namespaces"][0]["ip6tables"] = {"nat": "", "filter": text}
        elif where == "host":
            report["host"] = text
        else:
            report["notes"] = text
    elif how == "unknown-bulk":
        report["bulk"] = {f"k{i}": "v" * 1000 for i in range(draw(st.sampled_from([10, 5000])))}
    elif how == "claims-steady":
        # another host's tunnel IP, namespaces and device names, and its ports' iface-ids
        report["tunnel_ip"] = STEADY_TUNNEL_IP
        taken = {ns["name"] for ns in report["namespaces"]}
        claimed = draw(st.lists(namespace(steady_namespaces), max_size=3, unique_by=lambda ns: ns["name"]))
        report["namespaces"] += [ns for ns in claimed if ns["name"] not in taken]
        report["interfaces"] += draw(st.lists(interface(steady_names), max_size=3))
    elif how == "raw":
        body = draw(
            st.sampled_from(
                [
                    b'{"version": 1, "host": "compute0001", "x": NaN}',
                    b'{"version": 1e400}',
                    b'{"version": 123456789012345678901234567890}',
                    b'{"host": "\\ud800"}',
                    b'{"host": "a\\u0000b"}',
                    b"\xff\xfe{}",
                    b'{"version": 1',
                    b"",
                    b"[" * 5000 + b"]" * 5000,
                ]
            )
        )
        return Case(f"hostile/{how}", body)
    elif how == "gzip":
        headers["Content-Encoding"] = "gzip"
        body = draw(st.sampled_from([gzip.compress(encode(report)), b"not gzip", GZIP_BOMB]))
        return Case(f"hostile/{how}", body, headers)
    elif how == "not-object":
        return Case(f"hostile/{how}", encode(draw(json_values.filter(lambda v: not isinstance(v, dict)))))
    elif how == "wrong-host":
        report["host"] = draw(st.sampled_from([STEADY_HOST, "", "a:b", "x/y"]) | any_text)
    else:
        # text JSON allows but a node id or the database may not: NUL, lone surrogates, colons
        weird = draw(st.sampled_from(["a\x00b", "\ud800", "x:y", "-", "..", "\u202e", "名前"]))
        report["interfaces"].append({**REPORTS[FUZZ_HOST]["interfaces"][0], "name": weird})
        return Case(f"hostile/{how}", _encode_lenient(report))
    return Case(f"hostile/{how}", _encode_lenient(report), headers)


def _get(report: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        report = report[step]
    return report


def _encode_lenient(report: object) -> bytes:
    """orjson where it can; the standard library for what orjson refuses (deep, surrogates)."""
    try:
        return encode(report)
    except TypeError:
        import json

        return json.dumps(report).encode()


cases = st.one_of(
    valid_reports().map(lambda r: Case("valid", encode(r))),
    near_valid_cases(),
    hostile_cases(),
)
