"""One picture of each lab scenario on the map, in Chromium (the README's scenario table shows them).

For each scenario, every host's real report (tests/test_topology_dvr.py's host_report: compute2's in its
own view) and the cloud are joined, daphne serves the map, and the admin's physical view is drawn. The
test checks the picture shows what the scenario is: every host, and every router of the scenario's
state, among the drawn nodes; the picture goes to artifacts/scenarios/<name>.png.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser import daphne_server
from tests.conftest import ARTIFACTS
from tests.test_map_path_lab import map_as
from tests.test_topology_dvr import joined

pytestmark = [pytest.mark.lab, pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = ARTIFACTS / "scenarios"


def picture(state: dict[str, Any], name: str, browser: Any) -> None:
    joined(state)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with daphne_server(SHOTS / f"daphne-{name}.log") as url:
        page = map_as(browser, url, state, "admin", "view=physical")
        drawn = set(page.evaluate("window.neutronMap.visibleIds()"))
        hosts = {f"host:{host}" for host in state["hosts"]}
        assert hosts <= drawn, (name, sorted(hosts - drawn))
        page.screenshot(path=str(SHOTS / f"{name}.png"))
        logical = map_as(browser, url, state, "admin", "view=logical")
        logical.wait_for_function("window.neutronMap.drawnView === 'logical'", timeout=15000)
        routers = {f"router:{router['id']}" for router in state["routers"].values()}
        shown = set(logical.evaluate("window.neutronMap.visibleIds()"))
        assert routers <= shown, (name, sorted(routers - shown))
        logical.screenshot(path=str(SHOTS / f"{name}-logical.png"))


def test_a_picture_of_allinone(lab: dict[str, Any], browser: Any) -> None:
    picture(lab, "allinone", browser)


def test_a_picture_of_dualstack(dualstack_lab: dict[str, Any], browser: Any) -> None:
    picture(dualstack_lab, "dualstack", browser)


def test_a_picture_of_dvr(dvr_lab: dict[str, Any], browser: Any) -> None:
    picture(dvr_lab, "dvr", browser)


def test_a_picture_of_overlap(overlap_lab: dict[str, Any], browser: Any) -> None:
    picture(overlap_lab, "overlap", browser)


def test_a_picture_of_netnode(netnode_lab: dict[str, Any], browser: Any) -> None:
    picture(netnode_lab, "netnode", browser)


def test_a_picture_of_ha(ha_lab: dict[str, Any], browser: Any) -> None:
    picture(ha_lab, "ha", browser)


def test_a_picture_of_vlan(vlan_lab: dict[str, Any], browser: Any) -> None:
    picture(vlan_lab, "vlan", browser)
