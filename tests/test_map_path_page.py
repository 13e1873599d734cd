"""The map's packet path in real headless Chromium on the synthetic cloud (no lab needed).

Sessions are made directly in the test database; the graph is published as the collector would.
A port turned admin-down in a newly published graph turns the open path broken without a click.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from bench.synthetic import uid
from tests.browser import caller, daphne_server, off_loop, open_map
from tests.conftest import ARTIFACTS
from tests.map_fixtures import GraphDict, pingable, project_of, publish_graph, synthetic_graph

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server(transactional_db: None) -> Iterator[str]:
    publish_graph(pingable(synthetic_graph()))
    with daphne_server(ARTIFACTS / "daphne-map-path-page.log") as url:
        yield url


def admin_down(graph: GraphDict, port: str) -> GraphDict:
    out = copy.deepcopy(graph)
    for node in out["nodes"]:
        if node["id"] == port:
            node["attrs"]["admin_state_up"] = False
    return out


def test_a_same_network_path_in_the_logical_view_follows_a_live_change(server: str, browser: Any) -> None:
    page = open_map(browser, server, caller("admin", "admin-project", admin=True), "/map/#view=logical")
    vm0, vm2 = f"server:{uid('server', 0)}", f"server:{uid('server', 2)}"
    page.fill("#path-src", "vm-0")
    page.locator("#path-src-results li", has_text="vm-0 (VM)").first.click()
    page.fill("#path-dst", "vm-2")
    page.locator("#path-dst-results li", has_text="vm-2 (VM)").first.click()
    page.wait_for_function("window.neutronMap.path.result && window.neutronMap.path.result.verdict === 'ok'")
    result = page.evaluate("window.neutronMap.path.result")
    assert result["scenario"] == "same-network"
    badges = {b["id"] for b in page.evaluate("window.neutronMap.path.badges()")}
    assert {f"port:{uid('vmport', 0)}", f"port:{uid('vmport', 2)}"} <= badges
    assert page.locator("g.path-badge").count() == len(badges)
    page.wait_for_function(
        f"location.hash.includes('src={vm0.replace(':', '%3A')}') && "
        f"location.hash.includes('dst={vm2.replace(':', '%3A')}')"
    )  # the permalink
    off_loop(publish_graph, admin_down(pingable(synthetic_graph()), f"port:{uid('vmport', 0)}"))
    page.wait_for_function("window.neutronMap.path.result.verdict === 'broken'")
    assert page.locator("#path-result li.hop.status-fail").count() >= 1
    assert "administratively down" in page.locator("#path-result .path-problems").text_content()
    assert page.locator("g.path-badge.status-fail").count() >= 1
    page.click("#path-clear")
    page.wait_for_function("!location.hash.includes('src=')")  # the permalink is rewritten (debounced)
    assert page.locator("g.path-badge").count() == 0


def test_a_tenant_is_told_when_an_endpoint_is_not_theirs(server: str, browser: Any) -> None:
    page = open_map(browser, server, caller("member", project_of(1)))
    page.fill("#path-src", f"server:{uid('server', 0)}")  # project 0's VM
    page.fill("#path-dst", "192.168.0.1")
    page.click("#path-go")
    page.wait_for_function("window.neutronMap.path.error")
    assert page.locator("#path-result .path-error").text_content().startswith("Not found")
