"""On the real lab: a second host's report cannot speak for the controller (tunnel IP, qrouter- namespace)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from django.test import Client

from tests.test_topology_lab import has_edge, nodes, refresh_all
from topology.services import issue_agent_token

pytestmark = [pytest.mark.lab, pytest.mark.django_db]
INTRUDER = "intruder-host"


def real_host_nodes(graph: dict[str, Any], host: str) -> dict[str, Any]:
    """The real host's physical nodes, less what they say about the intruder."""
    kept = {}
    for node_id, node in nodes(graph).items():
        if node.get("host") == host and node["kind"] != "port":
            node = copy.deepcopy(node)
            warnings = [w for w in node["attrs"].get("warnings", []) if INTRUDER not in w]
            node["attrs"]["warnings"] = warnings
            node["attrs"].pop("collected_at", None)  # the controller's report is collected again after the intruder's
            kept[node_id] = node
    return kept


def test_a_fake_host_claiming_the_controllers_tunnel_ip_and_qrouter_changes_nothing_of_it(
    lab: dict[str, Any], client: Client
) -> None:
    host, router = lab["host"], lab["routers"]["router1"]["id"]
    before = refresh_all(host).graph
    tunnel_ip = nodes(before)[f"host:{host}"]["attrs"]["tunnel_ip"]
    assert tunnel_ip, "the lab's controller has a tunnel IP"
    qrouter = f"qrouter-{router}"
    real = next(ns for ns in (before_report(host)["namespaces"]) if ns["name"] == qrouter)
    claim = {
        "version": 1,
        "host": INTRUDER,
        "collected_at": "2026-12-02T11:00:00Z",
        "tunnel_ip": tunnel_ip,
        "namespaces": [copy.deepcopy(real)],
        "interfaces": [],
        "ovs": {"bridges": [], "flows": {}},
    }
    response = client.post(
        "/api/v1/agents/report/",
        json.dumps(claim),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {issue_agent_token(INTRUDER)}",
    )
    assert response.status_code == 202, response.content
    after = refresh_all(host).graph
    by_id = nodes(after)
    # the controller's nodes are unchanged, and the router is still joined to its own namespace only
    assert real_host_nodes(after, host) == real_host_nodes(before, host)
    assert by_id[f"host:{host}"]["attrs"]["tunnel_ip"] == tunnel_ip
    assert has_edge(after, f"router:{router}", f"netns:{host}:{qrouter}", "binds")
    assert not has_edge(after, f"router:{router}", f"netns:{INTRUDER}:{qrouter}", "binds")
    # both hosts are told
    assert any(INTRUDER in w and tunnel_ip in w for w in by_id[f"host:{host}"]["attrs"]["warnings"])
    intruder = by_id[f"host:{INTRUDER}"]
    assert intruder["attrs"]["tunnel_ip"] is None
    assert any(f"claims tunnel IP {tunnel_ip}" in w for w in intruder["attrs"]["warnings"])
    assert any("not scheduled to intruder-host" in w for w in intruder["attrs"]["warnings"])
    assert any("not joined" in w for w in by_id[f"netns:{INTRUDER}:{qrouter}"]["attrs"]["warnings"])


def before_report(host: str) -> dict[str, Any]:
    from topology.models import HostReport

    return HostReport.objects.get(host=host).report
