"""A project member's topology holds no attribute Neutron's default policy shows only to admins.

Checked against Neutron itself: what Neutron returns to demo (and to alt) for its own port, network and
router, with that user's own token, against what the dashboard returns to the same user.
"""

from __future__ import annotations

from typing import Any

import openstack.connection
import pytest
from django.test import Client

from tests.test_topology_lab import get_topology, refresh_all, tokens  # noqa: F401 (a fixture)
from topology.scope import ADMIN_ONLY_ATTRS

pytestmark = [pytest.mark.lab, pytest.mark.django_db]

# Neutron's attribute name -> the name the join gives it, per resource.
NEUTRON_NAMES = {
    "port": {
        "binding:host_id": "binding_host_id",
        "binding:vif_type": "vif_type",
        "binding:vif_details": "vif_details",
        "binding:profile": "binding_profile",
    },
    "network": {
        "provider:network_type": "network_type",
        "provider:physical_network": "physical_network",
        "provider:segmentation_id": "segmentation_id",
        "segments": "segments",
    },
    "router": {"distributed": "distributed", "ha": "ha"},
}


def neutron_shows(cloud: openstack.connection.Connection, resource: str, object_id: str) -> set[str]:
    body = cloud.network.get(f"/{resource}s/{object_id}").json()[resource]
    return set(body)


def by_id(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["id"]: n for n in view["nodes"]}


def test_it_shows_a_member_no_attribute_neutron_refuses_it(
    lab: dict[str, Any],
    client: Client,
    tokens: dict[str, str],  # noqa: F811
    demo_cloud: openstack.connection.Connection,
) -> None:
    refresh_all(lab["host"])
    cirros, router = lab["vms"]["cirros-01"], lab["routers"]["router1"]["id"]
    objects = {"port": cirros["port_id"], "network": lab["networks"]["private"], "router": router}
    demo = by_id(get_topology(client, tokens["demo"]).json())
    admin = by_id(get_topology(client, tokens["admin"]).json())
    for resource, object_id in objects.items():
        shown = neutron_shows(demo_cloud, resource, object_id)
        node_id = f"{resource}:{object_id}"
        for neutron_name, our_name in NEUTRON_NAMES[resource].items():
            if neutron_name not in shown:  # Neutron refuses it to demo: so must we
                assert our_name not in demo[node_id]["attrs"], (node_id, our_name)
    # the check can fail: Neutron does refuse these to demo, and the admin's view has them
    assert "binding:host_id" not in neutron_shows(demo_cloud, "port", cirros["port_id"])
    assert admin[f"port:{cirros['port_id']}"]["attrs"]["binding_host_id"] == lab["host"]
    assert "host" not in demo[f"port:{cirros['port_id']}"]  # a port's host is its binding:host_id
    assert "distributed" in admin[f"router:{router}"]["attrs"]
    host = f"host:{lab['host']}"
    assert admin[host]["attrs"]["agents"] and not (set(demo.get(host, {}).get("attrs", {})) & ADMIN_ONLY_ATTRS["host"])


def test_alt_gets_no_admin_only_attribute_either(
    lab: dict[str, Any],
    client: Client,
    tokens: dict[str, str],  # noqa: F811
) -> None:
    refresh_all(lab["host"])
    alt = get_topology(client, tokens["alt"]).json()
    assert alt["nodes"], "alt sees the public network at least"
    for node in alt["nodes"]:
        assert not set(node["attrs"]) & ADMIN_ONLY_ATTRS.get(node["kind"], frozenset()), node["id"]
        if node["kind"] == "port":
            assert "host" not in node
