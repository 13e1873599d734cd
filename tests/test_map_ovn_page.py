"""The map's details panel says what OVN holds of a node (issue 17), in Chromium, on a graph joined from REAL
OVN databases (tests/test_path_ovn.py's: two chassis, a router with its gateway on chassis-1, a floating IP)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lab.ovn_dbs import OvnDbs
from tests.browser import caller, daphne_server, open_map
from tests.conftest import ARTIFACTS
from tests.map_fixtures import publish_graph
from tests.test_ovn_read import PORT_GW, ROUTER
from tests.test_path_ovn import HOST_B, PORT_B, dbs, graph_of  # noqa: F401 (dbs: the module's fixture)

pytestmark = [pytest.mark.browser, pytest.mark.ovn, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server(dbs: OvnDbs, transactional_db: None) -> Iterator[str]:  # noqa: F811
    publish_graph(graph_of(dbs))
    with daphne_server(ARTIFACTS / "daphne-map-ovn.log") as url:
        yield url


def select(page: Any, text: str, node: str) -> str:
    page.fill("#map-search", text)
    page.press("#map-search", "Enter")
    page.wait_for_function(f"window.neutronMap.selected === {node!r}")
    return str(page.locator("#panel-body").text_content())


def test_the_panel_names_ovns_objects_chassis_and_gateway(server: str, browser: Any) -> None:
    page = open_map(browser, server, caller("admin", "admin-project", admin=True), "/map/#view=logical")
    port = select(page, "10.0.0.6", f"port:{PORT_B}")
    assert f"OVN Logical_Switch_Port{PORT_B}" in port and "bound on chassischassis-2" in port, port
    assert "Port_Binding upyes" in port, port
    router = select(page, "router1", f"router:{ROUTER}")
    assert f"OVN Logical_Routerneutron-{ROUTER}" in router, router
    assert f"gateway portlrp-{PORT_GW}" in router and "gateway chassischassis-1 (priority 1)" in router, router
    assert "gateway active onchassis-1" in router and "NAT snat172.24.4.10 <- 10.0.0.0/24" in router, router
    page.goto(page.url.split("#")[0] + "#view=physical")
    page.reload()
    page.wait_for_function("window.neutronMap.drawnView === 'physical'")
    host = select(page, HOST_B, f"host:{HOST_B}")
    assert "OVN chassischassis-2" in host and "encapsgeneve 127.0.0.3" in host, host
    page.screenshot(path=str(ARTIFACTS / "map-ovn-panel.png"))
