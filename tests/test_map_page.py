"""The map page in real headless Chromium, on the synthetic cloud (no lab needed).

Daphne serves the app (websockets through Channels and Redis); sessions are made directly in the
test database, as the login view makes them, so these tests do not need Keystone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import caller, daphne_server, off_loop, open_map, wait_drawn
from tests.conftest import ARTIFACTS
from tests.map_fixtures import project_of, publish_graph, synthetic_graph, with_network

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server(transactional_db: None) -> Iterator[str]:
    publish_graph(synthetic_graph())
    with daphne_server(ARTIFACTS / "daphne-map-page.log") as url:
        yield url


def test_it_draws_the_physical_and_logical_views(server: str, browser: Any) -> None:
    page = open_map(browser, server, caller("admin", "admin-project", admin=True))
    assert page.evaluate("window.neutronMap.view") == "physical"
    assert page.locator("g.box.kind-host").count() == 2
    assert page.locator("g.box.kind-bridge").count() >= 4
    assert page.locator(".map-legend li").count() > 5
    page.screenshot(path=str(ARTIFACTS / "map-synthetic-physical.png"))
    page.click("#view-logical")
    page.wait_for_function(
        "window.neutronMap.view === 'logical' && document.querySelectorAll('g.box.kind-router').length == 2"
    )
    page.screenshot(path=str(ARTIFACTS / "map-synthetic-logical.png"))


def test_it_applies_a_delta_and_keeps_positions(server: str, browser: Any) -> None:
    page = open_map(browser, server, caller("admin", "admin-project", admin=True), "/map/#view=logical")
    before = page.evaluate("window.neutronMap.positions()")
    revision = page.evaluate("window.neutronMap.revision")
    off_loop(publish_graph, with_network(synthetic_graph(), "new-net", "fresh-net", project_of(0)))
    wait_drawn(page, revision + 1)
    after = page.evaluate("window.neutronMap.positions()")
    assert "network:new-net" in after
    assert {k: after[k] for k in before} == before
    assert page.locator("g.box[data-id='network:new-net'] text.box-label").text_content() == "fresh-net"


def test_a_hostile_name_is_text(server: str, browser: Any) -> None:
    page = open_map(browser, server, caller("admin", "admin-project", admin=True), "/map/#view=logical")
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    revision = page.evaluate("window.neutronMap.revision")
    hostile = "<img src=x onerror=alert(1)>"
    off_loop(publish_graph, with_network(synthetic_graph(), "evil", hostile, project_of(0)))
    wait_drawn(page, revision + 1)
    page.click("g.box[data-id='network:evil'] rect")
    page.wait_for_timeout(300)
    assert page.locator("g.box[data-id='network:evil'] text.box-label").text_content() == hostile
    assert page.locator("#panel-body h2").text_content() == hostile
    assert page.locator("img").count() == 0
    assert dialogs == []


def test_a_hash_changed_in_place_switches_the_view_and_selects(server: str, browser: Any) -> None:
    """A permalink pasted into the open tab (only the hash changes): the view follows, then the selection;
    the back button returns to the view before."""
    network = next(n for n in synthetic_graph()["nodes"] if n["kind"] == "network")
    page = open_map(browser, server, caller("admin", "admin-project", admin=True))
    assert page.evaluate("window.neutronMap.drawnView") == "physical"
    page.evaluate("id => { location.hash = 'view=logical&sel=' + encodeURIComponent(id); }", network["id"])
    page.wait_for_function("window.neutronMap.drawnView === 'logical'")
    page.wait_for_function("id => window.neutronMap.selected === id", arg=network["id"])
    assert page.locator("#panel-body h2").text_content() == network["label"]
    assert page.locator("g.box.kind-router").count() == 2
    page.go_back()
    page.wait_for_function("window.neutronMap.drawnView === 'physical'")
    assert page.locator("g.box.kind-host").count() == 2
