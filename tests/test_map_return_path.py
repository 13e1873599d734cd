"""The map's return path in real headless Chromium, on a synthetic two-host DVR cloud (no lab needed).

East-west behind a distributed router, the request is routed by the sender's host's qrouter and the
reply by the destination host's (seed 001): the explainer gives ``return_hops``, which the map draws
as its own dashed overlay (R1, R2…) and the panel lists under "Return path", grouped by host.
A walk without ``return_hops`` draws nothing extra.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bench.synthetic import uid
from tests.browser import caller, daphne_server, off_loop, open_map
from tests.conftest import ARTIFACTS
from tests.map_fixtures import DVR_HOSTS, DVR_ROUTER, dvr_graph, publish_graph

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VM0, VM1, VM2 = (f"server:{uid('server', n)}" for n in range(3))  # vm-0, vm-2 on compute0000; vm-1 on compute0001
QROUTER_SRC = f"netns:{DVR_HOSTS[0]}:qrouter-{DVR_ROUTER}"
QROUTER_DST = f"netns:{DVR_HOSTS[1]}:qrouter-{DVR_ROUTER}"


@pytest.fixture
def server(transactional_db: None) -> Iterator[str]:
    publish_graph(dvr_graph())
    with daphne_server(ARTIFACTS / "daphne-map-return-path.log") as url:
        yield url


def explain(page: Any, src: str, dst: str) -> dict[str, Any]:
    """Explain ``src`` -> ``dst`` (servers) and wait for the answer drawn."""
    port = f"port:{uid('vmport', int(dst == VM1) or 2 * int(dst == VM2))}"
    page.evaluate(f"window.neutronMap.path.explain({src!r}, {dst!r})")
    page.wait_for_function(
        f"window.neutronMap.path.result && window.neutronMap.path.result.dst.node === {port!r} "
        "&& !document.getElementById('path-result').classList.contains('loading')"
    )
    return dict(page.evaluate("window.neutronMap.path.result"))


def opened(browser: Any, server: str) -> tuple[Any, list[str]]:
    """The physical view as an admin, and the page's uncaught script errors (from now on)."""
    page = open_map(browser, server, caller("admin", "admin-project", admin=True), "/map/#view=physical")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page, errors


def ids(page: Any, which: str) -> set[str]:
    return {b["id"] for b in page.evaluate(f"window.neutronMap.path.{which}()")}


def test_the_reply_routed_by_the_destination_hosts_qrouter_is_drawn_as_its_own_path(server: str, browser: Any) -> None:
    page, errors = opened(browser, server)
    result = explain(page, VM0, VM1)
    assert (result["scenario"], result["verdict"]) == ("east-west-dvr", "ok"), result
    back = result["return_hops"]
    assert back and QROUTER_DST in [h["node"] for h in back]
    assert QROUTER_DST not in [h["node"] for h in result["hops"]]

    # on the map: the destination host's qrouter is a return hop, not a forward one; the sender's the other way round
    forward, returning = ids(page, "badges"), ids(page, "returnBadges")
    assert QROUTER_DST in returning and QROUTER_DST not in forward
    assert QROUTER_SRC in forward and QROUTER_SRC not in returning
    taps = {f"iface:{host}:-:tap{uid('vmport', n)[:11]}" for host, n in zip(DVR_HOSTS, (0, 1), strict=True)}
    assert returning >= taps | {f"bridge:{host}:br-int" for host in DVR_HOSTS}
    assert page.locator(f'g.return-badge[data-id="{QROUTER_DST}"]').count() == 1
    assert page.locator(f'g.path-badge[data-id="{QROUTER_DST}"]').count() == 0
    box = page.locator(f'g.box[data-id="{QROUTER_DST}"]')
    assert "on-return" in box.get_attribute("class") and "on-path" not in box.get_attribute("class").split()
    assert page.locator("g.return-badge").count() == len(returning)
    assert page.locator("path.return-line").count() >= 1
    assert page.locator("g.return-badge text").first.text_content().startswith("R")
    numbers = [b["text"] for b in page.evaluate("window.neutronMap.path.returnBadges()")]
    assert any(t.startswith("R1") for t in numbers) and all(t.startswith("R") for t in numbers)
    qrouter_hop = next(i + 1 for i, h in enumerate(back) if h["node"] == QROUTER_DST)
    assert page.locator(f'g.return-badge[data-id="{QROUTER_DST}"] text').text_content() == f"R{qrouter_hop}"
    assert page.locator(".map-legend .legend-return").is_visible()

    # the panel: a "Return path" section, grouped by host (the reply starts on the destination's host)
    section = page.locator("#path-result section.path-return")
    assert section.locator("h3").text_content() == "Return path"
    assert section.locator("li.hop").count() == len(back)
    assert section.locator(".return-count").text_content() == f"{len(back)} hops"
    assert section.locator("> ol.return-hops > li.host-group > .host-name").all_text_contents() == [
        f"on {DVR_HOSTS[1]}",
        f"on {DVR_HOSTS[0]}",
    ]
    assert section.locator("li.hop .hop-no").first.text_content() == "R1"
    assert f"{len(back)} back" in page.locator("#path-result .path-summary").text_content()
    assert page.locator("#path-result > ol.path-hops li.hop").count() == len(result["hops"])
    page.screenshot(path=str(ARTIFACTS / "map-return-path.png"))
    page.click("#map-legend h3")  # fold the legend: the panel's Return path section beside the whole map
    section.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "map-return-path-panel.png"))
    page.click("#map-legend h3")

    # a return hop in the narrative shows its node on the map
    section.locator(f'li.hop[data-node="{QROUTER_DST}"] .hop-line').click()
    page.wait_for_function(f"window.neutronMap.selected === {QROUTER_DST!r}")

    # the toggle hides the way back (and the permalink says so), and brings it back
    page.uncheck("#path-return-toggle")
    assert page.locator("g.return-badge").count() == 0 and page.locator("path.return-line").count() == 0
    assert ids(page, "returnBadges") == set() and QROUTER_SRC in ids(page, "badges")
    assert not page.locator(".map-legend .legend-return").is_visible()
    page.wait_for_function("location.hash.includes('back=0')")
    assert section.locator("li.hop").count() == len(back)  # the narrative stays
    page.check("#path-return-toggle")
    assert page.locator(f'g.return-badge[data-id="{QROUTER_DST}"]').count() == 1
    page.wait_for_function("!location.hash.includes('back=0')")

    # a walk without return_hops (same network): no return overlay, the panel says the reply retraces it
    same = explain(page, VM0, VM2)
    assert same["scenario"] == "same-network" and not same.get("return_hops")
    assert ids(page, "returnBadges") == set()
    assert page.locator("g.return-badge").count() == 0 and page.locator("path.return-line").count() == 0
    assert page.locator("g.box.on-return, g.glyph.on-return").count() == 0
    assert page.locator("g.path-badge").count() >= 2
    assert page.locator("#path-result section.path-return li.hop").count() == 0
    assert "retraces" in page.locator("#path-result section.path-return .return-note").text_content()
    assert not page.locator(".map-legend .legend-return").is_visible()
    assert page.locator(".map-legend .legend-path").first.is_visible()
    assert errors == []


def test_a_broken_way_back_is_red_while_the_way_there_works(server: str, browser: Any) -> None:
    page, errors = opened(browser, server)
    explain(page, VM0, VM1)
    assert page.locator("g.return-badge.status-fail").count() == 0
    # compute0001's qrouter disappears (its L3 agent no longer builds it): the open path follows
    off_loop(publish_graph, dvr_graph(qrouter_on_second_host=False))
    page.wait_for_function("window.neutronMap.path.result.return_hops.some((h) => h.status === 'fail')")
    result = page.evaluate("window.neutronMap.path.result")
    # the request still arrives, but a ping needs the reply: the path is broken on the way back
    assert (result["verdict"], result["return_verdict"]) == ("broken", "broken")
    assert all(h["status"] != "fail" for h in result["hops"])
    failed = [h for h in result["return_hops"] if h["status"] == "fail" and h["node"]]
    assert failed
    page.wait_for_function("document.querySelectorAll('g.return-badge.status-fail').length > 0")
    broken = {b["id"] for b in page.evaluate("window.neutronMap.path.returnBadges()") if b["status"] == "fail"}
    assert {h["node"] for h in failed} <= broken
    assert page.locator("g.path-badge.status-fail").count() == 0
    assert page.locator("path.return-line.after-fail").count() == 1
    assert page.locator("#path-result section.path-return li.hop.status-fail").count() >= 1
    assert (
        "is missing on compute0001"
        in page.locator("#path-result section.path-return li.hop.status-fail .hop-evidence").first.text_content()
    )
    assert "lost" in page.locator("#path-result .path-verdict .return-verdict").text_content()
    assert page.locator("#path-result .path-verdict .verdict").text_content() == "✓ the way there works"
    assert "lost at R" in page.locator("#path-result section.path-return .return-note").text_content()
    page.click("#map-legend h3")
    page.locator("#path-result section.path-return li.hop.status-fail").first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "map-return-path-broken.png"))
    assert errors == []
