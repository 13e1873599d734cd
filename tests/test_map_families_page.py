"""The map's node details show both families' addresses, and radvd in a qrouter namespace (issue 19, part 3).

A synthetic cloud where vm-0's port is dual stack, router-0's qr- device holds an IPv4 and an IPv6
address and its qrouter namespace runs radvd (as the L3 agent starts it, its config named after the
router): selected by search in the real page (Chromium), the panel lists each family on its own row.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bench.synthetic import synthetic_cloud, uid
from tests.browser import caller, daphne_server, open_map
from tests.conftest import ARTIFACTS
from tests.map_fixtures import publish_graph
from topology.join import join

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROUTER, VM0, V6 = uid("router", 0), uid("vmport", 0), uid("subnet", "v6", 0)
RADVD_CONF = f"/var/lib/neutron/ra/{ROUTER}.radvd.conf"


def dual_stack_graph() -> dict[str, Any]:
    cloud, reports = synthetic_cloud(hosts=2, ports=2, projects=1, network_nodes=1)
    cloud["subnets"].append(
        {
            "id": V6,
            "network_id": uid("net", 0),
            "cidr": "2001:db8:10::/64",
            "ip_version": 6,
            "ipv6_ra_mode": "slaac",
            "ipv6_address_mode": "slaac",
            "project_id": cloud["subnets"][-1]["project_id"],
        }
    )
    port = next(p for p in cloud["ports"] if p["id"] == VM0)
    port["fixed_ips"].append({"subnet_id": V6, "ip_address": "2001:db8:10::a"})
    qrouter = next(ns for ns in reports["compute0000"]["namespaces"] if ns["name"] == f"qrouter-{ROUTER}")
    qrouter["interfaces"][0]["addresses"] = ["10.0.0.1/24", "2001:db8:10::1/64", "fe80::f816:3eff:fe00:1/64"]
    qrouter["processes"] = [
        {"pid": 4242, "name": "radvd", "argv": ["radvd", "-C", RADVD_CONF, "-p", f"/run/{ROUTER}.pid.radvd"]}
    ]
    return join(cloud, reports).to_dict()


@pytest.fixture
def server(transactional_db: None) -> Iterator[str]:
    publish_graph(dual_stack_graph())
    with daphne_server(ARTIFACTS / "daphne-map-families.log") as url:
        yield url


def select(page: Any, text: str, node: str) -> str:
    page.fill("#map-search", text)
    page.press("#map-search", "Enter")
    page.wait_for_function(f"window.neutronMap.selected === {node!r}")
    return str(page.locator("#panel-body").text_content())


def test_the_panel_shows_each_familys_addresses_and_radvd(server: str, browser: Any) -> None:
    page = open_map(browser, server, caller("admin", "admin-project", admin=True), "/map/#view=logical")
    port = select(page, "2001:db8:10::a", f"port:{VM0}")
    assert "fixed IPs (IPv4)10.0.0.10" in port and "fixed IPs (IPv6)2001:db8:10::a" in port, port
    page.goto(page.url.split("#")[0] + "#view=physical")
    page.reload()
    page.wait_for_function("window.neutronMap.drawnView === 'physical'")
    qr = f"iface:compute0000:qrouter-{ROUTER}:qr-{uid('port', 'qr', 0)[:11]}"
    device = select(page, "2001:db8:10::1", qr)
    assert "addresses (IPv4)10.0.0.1/24" in device, device
    assert "addresses (IPv6)2001:db8:10::1/64, fe80::f816:3eff:fe00:1/64" in device, device
    namespace = select(page, f"qrouter-{ROUTER}", f"netns:compute0000:qrouter-{ROUTER}")
    assert f"radvd (IPv6 router advertisements)pid=4242, config={RADVD_CONF}" in namespace, namespace
    page.screenshot(path=str(ARTIFACTS / "map-families-panel.png"))
