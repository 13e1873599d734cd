"""validate_report: the ingest view's gate, tested on good and malformed reports."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from topology.report import MAX_REASONS, MAX_REPORT_BYTES, validate_report


def good() -> dict[str, Any]:
    return {
        "version": 1,
        "host": "compute1",
        "collected_at": "2026-11-21T09:00:00Z",
        "tunnel_ip": "10.0.1.11",
        "namespaces": [
            {
                "name": "qrouter-8f1c1b5e-3b8f-4a52-9d0e-2b1f0a7c3d11",
                "interfaces": [
                    {
                        "name": "qr-1a2b3c4d-5e",
                        "kind": "ovs-internal",
                        "mac": "fa:16:3e:00:00:01",
                        "mtu": 1450,
                        "state": "UP",
                        "addresses": ["10.0.0.1/24"],
                        "master": None,
                        "peer": None,
                        "peer_netns": None,
                    },
                    {
                        "name": "rfp-8f1c1b5e-3",
                        "kind": "veth",
                        "mac": "fa:16:3e:00:00:02",
                        "mtu": 1500,
                        "state": "UP",
                        "addresses": ["169.254.106.114/31"],
                        "master": None,
                        "peer": "fpr-8f1c1b5e-3",
                        "peer_netns": "fip-2f4e",
                        "ifindex": 7,
                    },
                ],
                "routes": [
                    {
                        "dst": "0.0.0.0/0",
                        "gateway": "169.254.106.115",
                        "dev": "rfp-8f1c1b5e-3",
                        "table": 16,
                        "src": None,
                    }
                ],
                "rules": [
                    {"priority": 57481, "from": "10.0.0.5/32", "to": None, "table": 16, "iif": None, "oif": None}
                ],
                "iptables": {
                    "nat": "*nat\n[3:252] -A neutron-l3-agent-float-snat -s 10.0.0.5/32 -j SNAT "
                    "--to-source 192.168.1.10\nCOMMIT\n",
                    "filter": "",
                },
                "unknown_field": {"kept": True},
            }
        ],
        "interfaces": [
            {
                "name": "qvo1a2b3c4d-5e",
                "kind": "veth",
                "mac": None,
                "mtu": 1450,
                "state": "UP",
                "addresses": [],
                "master": None,
                "peer": "qvb1a2b3c4d-5e",
                "peer_netns": None,
            },
        ],
        "ovs": {
            "bridges": [
                {
                    "name": "br-int",
                    "datapath_type": "netdev",
                    "fail_mode": "secure",
                    "ports": [
                        {
                            "name": "qvo1a2b3c4d-5e",
                            "tag": 1,
                            "interfaces": [
                                {
                                    "name": "qvo1a2b3c4d-5e",
                                    "type": "",
                                    "options": {},
                                    "external_ids": {"iface-id": "1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"},
                                    "ofport": 5,
                                }
                            ],
                        },
                        {
                            "name": "vxlan-0a00010c",
                            "tag": None,
                            "interfaces": [
                                {
                                    "name": "vxlan-0a00010c",
                                    "type": "vxlan",
                                    "ofport": None,
                                    "options": {"local_ip": "10.0.1.11", "remote_ip": "10.0.1.12", "key": "flow"},
                                    "external_ids": {},
                                }
                            ],
                        },
                    ],
                },
            ],
            "flows": {
                "br-int": ["cookie=0x0, duration=1.0s, table=0, n_packets=3, n_bytes=180, priority=0 actions=NORMAL"]
            },
        },
        "routes": [],
        "extra_top_level": 1,
    }


def test_it_accepts_a_valid_report_with_unknown_fields() -> None:
    assert validate_report(good()) == []


def test_it_accepts_null_tunnel_ip_and_empty_lists() -> None:
    report = good()
    report.update(tunnel_ip=None, namespaces=[], interfaces=[], ovs={"bridges": [], "flows": {}})
    assert validate_report(report) == []


def broken(path: str, value: Any) -> dict[str, Any]:
    """good() with the value at a dotted path replaced (or deleted when value is ...)."""
    report = copy.deepcopy(good())
    *parents, last = path.split(".")
    node: Any = report
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    key: Any = int(last) if last.isdigit() else last
    if value is ...:
        del node[key]
    else:
        node[key] = value
    return report


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        ("version", 2, "version: must be 1"),
        ("version", True, "version: must be 1"),
        ("version", ..., "version: is required"),
        ("host", "", "host: must be a non-empty string"),
        ("host", "compute:1", "host: must be a host name"),
        ("collected_at", "yesterday", "collected_at: must be an ISO 8601 timestamp"),
        ("collected_at", "2026-11-21T09:00:00", "collected_at: must carry a time zone"),
        ("tunnel_ip", "10.0.1", "tunnel_ip: must be an IP address"),
        ("namespaces", {}, "namespaces: must be an array, not an object"),
        ("namespaces.0.name", 3, "namespaces[0].name: must be a non-empty string"),
        ("namespaces.0.name", "../etc", "namespaces[0].name: is not a namespace name"),
        ("namespaces.0.interfaces.0.addresses", ["10.0.0.1"], "addresses[0]: must be an address in CIDR form"),
        ("namespaces.0.interfaces.0.addresses", ["10.0.0.300/24"], "namespaces[0].interfaces[0].addresses[0]"),
        ("namespaces.0.interfaces.1.peer_netns", 5, "namespaces[0].interfaces[1].peer_netns: must be a string"),
        ("namespaces.0.interfaces.0.mtu", "1450", "namespaces[0].interfaces[0].mtu: must be an integer"),
        ("namespaces.0.interfaces.0.kind", None, "namespaces[0].interfaces[0].kind: must be a string"),
        ("namespaces.0.routes.0.dst", "default", "namespaces[0].routes[0].dst: must be an address in CIDR form"),
        ("namespaces.0.routes.0.table", "16", "namespaces[0].routes[0].table: must be an integer"),
        ("namespaces.0.rules.0.priority", None, "namespaces[0].rules[0].priority: must be an integer"),
        ("namespaces.0.iptables", "nat", "namespaces[0].iptables: must be an object"),
        ("namespaces.0.iptables.nat", None, "namespaces[0].iptables.nat: must be a string"),
        ("interfaces.0", "qvo", "interfaces[0]: must be an object, not a string"),
        ("interfaces.0.name", "", "interfaces[0].name: must be a non-empty string"),
        ("ovs", [], "ovs: must be an object, not an array"),
        ("ovs.bridges.0.ports.0.tag", 4096, "ovs.bridges[0].ports[0].tag: must be a VLAN id"),
        ("ovs.bridges.0.ports.0.interfaces.0.external_ids", {"iface-id": 1}, "external_ids: values must be strings"),
        ("ovs.bridges.0.ports.0.interfaces.0.ofport", "5", "ofport: must be an integer or null"),
        ("ovs.bridges.0.datapath_type", None, "ovs.bridges[0].datapath_type: must be a string"),
        ("ovs.flows", {"br-int": "cookie=0x0"}, "ovs.flows['br-int']: must be an array"),
        ("ovs.flows", {"br-int": [1]}, "ovs.flows['br-int']: must be an array of strings"),
    ],
)
def test_it_rejects_with_a_clear_reason(path: str, value: Any, reason: str | None) -> None:
    reasons = validate_report(broken(path, value))
    assert reasons, "should be rejected"
    if reason:
        assert any(r.startswith(reason) or reason in r for r in reasons), reasons


def test_it_rejects_duplicate_namespaces() -> None:
    report = good()
    report["namespaces"].append(copy.deepcopy(report["namespaces"][0]))
    assert validate_report(report) == [
        "namespaces[1].name: duplicate namespace 'qrouter-8f1c1b5e-3b8f-4a52-9d0e-2b1f0a7c3d11'"
    ]


def test_it_rejects_non_objects_and_too_many_namespaces() -> None:
    assert validate_report([]) == ["report: must be an object, not an array"]
    assert validate_report(None) == ["report: must be an object, not null"]
    report = good()
    report["namespaces"] = [{"name": f"ns{i}"} for i in range(11)]
    assert validate_report(report, max_namespaces=10) == ["namespaces: too many namespaces (11 > 10)"]


def test_it_caps_the_list_of_reasons() -> None:
    report = good()
    report["interfaces"] = [{"name": ""}] * 100
    reasons = validate_report(report)
    assert len(reasons) == MAX_REASONS + 1 and reasons[-1].startswith("... and ")


def test_the_size_bound_is_sensible() -> None:
    assert 16 * 1024 * 1024 <= MAX_REPORT_BYTES <= 64 * 1024 * 1024
