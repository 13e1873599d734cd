"""The legend in the stage's lower left never hides the packet path (issue 14 item 4), in real headless Chromium.

On the synthetic two-host DVR cloud (no lab needed), physical view as an admin: the badge of the first
hop drawn (hop 1 where the view draws it) is clear of the legend's box at the default fit (the Fit
button) and at the path's own fit, with the legend open, with its path keys shown, and folded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from bench.synthetic import uid
from tests.browser import caller, daphne_server, open_map
from tests.conftest import ARTIFACTS
from tests.map_fixtures import dvr_graph, pingable, publish_graph, synthetic_graph
from tests.test_map_return_path import VM0, VM1, VM2, explain

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server(transactional_db: None) -> Iterator[str]:
    publish_graph(dvr_graph())
    with daphne_server(ARTIFACTS / "daphne-map-legend.log") as url:
        yield url


@pytest.fixture
def synthetic_server(transactional_db: None) -> Iterator[str]:
    publish_graph(pingable(synthetic_graph()))
    with daphne_server(ARTIFACTS / "daphne-map-legend-synthetic.log") as url:
        yield url


def hop_one(page: Any) -> Any:
    """The forward badge of the first hop drawn: hop 1, or the first after hops not drawn in this view
    (a VM is no node of the physical view: its tap is). Badges come in hop order."""
    badges = page.evaluate("window.neutronMap.path.badges()")
    assert badges, "no path drawn"
    first = badges[0]
    assert re.match(r"^\d+", first["text"]), first
    return page.locator(f'g.path-badge[data-id="{first["id"]}"]')


def settled(page: Any) -> None:
    """The zoom's transform written to the page (d3's zoom is synchronous; one frame for layout)."""
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")


def assert_clear_of_legend(page: Any, what: str) -> None:
    badge = hop_one(page).bounding_box()
    legend = page.locator("#map-legend").bounding_box()
    stage = page.locator("#map-stage").bounding_box()
    assert badge and legend and stage, (badge, legend, stage)
    # hop 1 is on the stage (visible), and its box does not meet the legend's
    inside = (
        stage["x"] <= badge["x"]
        and badge["x"] + badge["width"] <= stage["x"] + stage["width"]
        and stage["y"] <= badge["y"]
        and badge["y"] + badge["height"] <= stage["y"] + stage["height"]
    )
    assert inside, (what, badge, stage)
    apart = (
        badge["x"] + badge["width"] <= legend["x"]
        or legend["x"] + legend["width"] <= badge["x"]
        or badge["y"] + badge["height"] <= legend["y"]
        or legend["y"] + legend["height"] <= badge["y"]
    )
    assert apart, (what, badge, legend)


@pytest.mark.parametrize("dst", [VM1, VM2], ids=["east-west-dvr", "same-network"])
def test_hop_one_is_never_under_the_legend(server: str, browser: Any, dst: str) -> None:
    page = open_map(browser, server, caller("admin", "admin-project", admin=True), "/map/#view=physical")
    explain(page, VM0, dst)
    settled(page)
    assert page.locator(".map-legend .legend-path").first.is_visible()
    assert_clear_of_legend(page, "the path's fit")
    page.click("#fit")
    settled(page)
    assert_clear_of_legend(page, "the default fit")
    page.screenshot(path=str(ARTIFACTS / f"map-legend-clear-{dst.split(':')[1][:8]}.png"))
    page.click("#map-legend h3")  # folded: a smaller legend, the same rule
    page.click("#fit")
    settled(page)
    assert_clear_of_legend(page, "the default fit, legend folded")


def test_a_path_on_the_second_host_is_clear_of_the_legend_in_a_smaller_window(
    synthetic_server: str, browser: Any
) -> None:
    """vm-1 on compute0001 (the lower host box, where the legend sits) to the outside, window 1200x800:
    before the fit kept clear of the legend, its tap's badge sat under the legend at the default fit."""
    page = open_map(browser, synthetic_server, caller("admin", "admin-project", admin=True), "/map/#view=physical")
    page.evaluate(f"window.neutronMap.path.explain('server:{uid('server', 1)}', '192.168.1.1')")
    page.wait_for_function("window.neutronMap.path.result && window.neutronMap.path.badges().length > 0")
    assert hop_one(page).get_attribute("data-id").startswith("iface:compute0001:")
    page.set_viewport_size({"width": 1200, "height": 800})
    page.click("#fit")
    settled(page)
    assert_clear_of_legend(page, "the default fit, 1200x800")
    page.screenshot(path=str(ARTIFACTS / "map-legend-clear-second-host.png"))
