"""A stale host on the map page in real headless Chromium (synthetic cloud, no lab): its box, title and legend."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import caller, daphne_server, open_map
from tests.conftest import ARTIFACTS
from tests.map_fixtures import publish_graph, synthetic_graph
from topology.freshness import mark_stale

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
STALE_HOST, FRESH_HOST = "compute0001", "compute0000"
SINCE = "2026-12-02T10:00:00+00:00"


@pytest.fixture
def server(transactional_db: None) -> Iterator[str]:
    graph = synthetic_graph()
    assert {f"host:{STALE_HOST}", f"host:{FRESH_HOST}"} <= {n["id"] for n in graph["nodes"]}
    publish_graph(mark_stale(graph, {STALE_HOST: SINCE}))
    with daphne_server(ARTIFACTS / "daphne-map-stale.log") as url:
        yield url


def test_it_shows_the_stale_host_as_stale_and_the_fresh_one_as_usual(server: str, browser: Any) -> None:
    page = open_map(browser, server, caller("admin", "admin-project", admin=True))
    stale = page.locator(f"g.box.kind-host[data-id='host:{STALE_HOST}']")
    fresh = page.locator(f"g.box.kind-host[data-id='host:{FRESH_HOST}']")
    assert "st-stale" in (stale.get_attribute("class") or "")
    assert "st-stale" not in (fresh.get_attribute("class") or "")
    assert "no report since" in (stale.locator("text.box-label").text_content() or "")
    assert "no report since" not in (fresh.locator("text.box-label").text_content() or "")
    assert page.locator(".map-legend li", has_text="STALE: no fresh agent report").count() == 1
    page.screenshot(path=str(ARTIFACTS / "map-stale-host.png"))
