"""Time travel on the map in real headless Chromium (synthetic cloud through the real graph service, no lab).

A port is removed (a new revision, recorded in the history); the timeline replays the revision
before and the port is back; live updates wait meanwhile; "compare with…" draws it as a removed
ghost beside a changed port; the permalink carries the revision and the compare and opens them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import caller, daphne_server, off_loop, open_map, wait_drawn
from tests.conftest import ARTIFACTS
from tests.history_inputs import Inputs, rebuild
from tests.map_fixtures import project_of
from topology.history.models import GraphRevision

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ADMIN = caller("admin", "admin-project", admin=True)


@pytest.fixture
def cloud(transactional_db: None) -> Inputs:
    inputs = Inputs(hosts=2, ports=6, projects=2)
    inputs.store_all()
    rebuild()
    return inputs


@pytest.fixture
def server(cloud: Inputs) -> Iterator[str]:
    with daphne_server(ARTIFACTS / "daphne-timeline.log") as url:
        yield url


def vm_ports(inputs: Inputs) -> list[dict[str, Any]]:
    return [p for p in inputs.cloud["ports"] if p["device_owner"] == "compute:nova"]


def remove_port(inputs: Inputs, port: dict[str, Any]) -> int:
    inputs.cloud["ports"].remove(port)
    inputs.store_cloud()
    revision, graph = rebuild()
    assert f"port:{port['id']}" not in {n["id"] for n in graph["nodes"]}
    return revision


def port_down(inputs: Inputs, port: dict[str, Any]) -> int:
    port["status"] = "DOWN"
    inputs.store_cloud()
    return rebuild()[0]


def drag_to(page: Any, mark: Any) -> None:
    start, end = page.locator("#timeline-svg rect.live-end").bounding_box(), mark.bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] - 2, steps=8)
    page.mouse.up()


def replay(page: Any, revision: int) -> None:
    """Open the timeline and drag it to ``revision``'s mark, as a user does."""
    page.click("#timeline-toggle")
    mark = page.locator(f"#timeline-svg rect.mark[data-revision='{revision}']")
    mark.wait_for(state="attached")
    drag_to(page, mark)


def node(page: Any, node_id: str) -> Any:
    return page.locator(f"#map-svg [data-id='{node_id}']")


def test_replay_the_revision_before_a_removal_compare_and_open_the_permalink(
    cloud: Inputs, server: str, browser: Any
) -> None:
    page = open_map(browser, server, ADMIN, "/map/#view=logical")
    gone, later = vm_ports(cloud)[0], vm_ports(cloud)[1]
    gone_id, later_id = f"port:{gone['id']}", f"port:{later['id']}"
    before = page.evaluate("window.neutronMap.revision")
    assert node(page, gone_id).count() == 1
    removed = off_loop(remove_port, cloud, gone)
    wait_drawn(page, removed)
    page.wait_for_function(f"!document.querySelector(\"#map-svg [data-id='{gone_id}']\")")  # the live map lost it

    replay(page, before)  # from the live end along the track to the mark, as a user drags
    assert page.locator("#timeline-svg rect.mark").count() >= 2
    page.wait_for_function(
        f"window.neutronMap.revision === {before} && window.neutronMap.stats.drawnRevision === {before}"
    )
    assert node(page, gone_id).count() == 1  # the removed port is back
    banner = page.locator("#map-past")
    assert banner.is_visible() and f"viewing revision {before} at" in (banner.text_content() or "")
    assert "paused" in (page.locator("#map-live").text_content() or "")
    page.screenshot(path=str(ARTIFACTS / "timeline-past-revision.png"))

    frames = page.evaluate("window.neutronMap.stats.wsFrames")
    newest = off_loop(port_down, cloud, later)  # a live change meanwhile: it waits
    page.wait_for_function(f"window.neutronMap.stats.wsFrames > {frames}")
    assert page.evaluate("window.neutronMap.revision") == before and node(page, gone_id).count() == 1

    page.click("#map-past-live")
    wait_drawn(page, newest)
    assert node(page, gone_id).count() == 0 and banner.is_hidden()
    page.locator(f"#timeline-svg rect.mark[data-revision='{newest}']").wait_for(state="attached")
    page.click("#timeline-compare")
    page.locator(f"#timeline-svg rect.mark[data-revision='{before}']").dispatch_event("click")
    page.wait_for_function(f"window.neutronMap.timeline.compare === {before} && !!window.neutronMap.timeline.diff()")
    diff = page.evaluate("window.neutronMap.timeline.diff()")
    assert diff["removed"] == [gone_id] and later_id in diff["changed"]
    page.wait_for_function(f"document.querySelector(\"#map-svg [data-id='{gone_id}']\") !== null")
    assert "diff-removed" in (node(page, gone_id).get_attribute("class") or "")  # drawn back as a ghost
    assert "diff-changed" in (node(page, later_id).get_attribute("class") or "")
    assert f"compared with revision {before}" in (banner.text_content() or "")
    page.screenshot(path=str(ARTIFACTS / "timeline-compare.png"))

    page.wait_for_function(f"location.hash.includes('rev={newest}') && location.hash.includes('cmp={before}')")
    link = page.evaluate("location.href")
    again = open_map(browser, server, ADMIN, link[len(server) :])
    again.wait_for_function(f"window.neutronMap.timeline.diff() && window.neutronMap.revision === {newest}")
    assert "diff-removed" in (node(again, gone_id).get_attribute("class") or "")
    assert again.locator("#map-timeline").is_visible() and again.locator("#map-past").is_visible()

    only = open_map(browser, server, ADMIN, f"/map/#view=logical&rev={before}")
    only.wait_for_function(f"window.neutronMap.stats.drawnRevision === {before}")
    assert node(only, gone_id).count() == 1 and "diff-" not in (node(only, gone_id).get_attribute("class") or "")
    only.locator(f"#timeline-svg rect.mark[data-revision='{newest}']").wait_for(state="attached")
    only.focus("#timeline-svg")
    only.keyboard.press("ArrowRight")  # the slider's next mark: the revision after
    only.wait_for_function(f"window.neutronMap.timeline.revision === {removed}")
    only.keyboard.press("End")  # its end: live again
    only.wait_for_function(f"window.neutronMap.timeline.revision === null && window.neutronMap.revision === {newest}")
    assert node(only, gone_id).count() == 0 and only.locator("#map-past").is_hidden()


def test_a_permalink_to_a_revision_no_longer_kept_says_so_and_shows_live(
    cloud: Inputs, server: str, browser: Any
) -> None:
    page = open_map(browser, server, ADMIN, "/map/#view=logical&rev=999")
    page.wait_for_function("document.getElementById('map-past-text').textContent.includes('not in the history')")
    text = page.locator("#map-past-text").text_content() or ""
    assert "the oldest kept is 1" in text and "showing the live map" in text
    assert page.evaluate("window.neutronMap.timeline.revision") is None
    assert page.evaluate("window.neutronMap.revision") >= 1


def test_a_member_replays_only_its_own_scope(cloud: Inputs, server: str, browser: Any) -> None:
    """demo's timeline and past map hold nothing of alt's project, and alt's change is no mark of demo's."""
    demo, alt = project_of(0), project_of(1)
    mine = next(p for p in vm_ports(cloud) if p["project_id"] == demo)
    theirs = next(p for p in vm_ports(cloud) if p["project_id"] == alt)
    first = GraphRevision.objects.order_by("revision").values_list("revision", flat=True).first()
    own = off_loop(port_down, cloud, mine)
    other = off_loop(port_down, cloud, theirs)
    page = open_map(browser, server, caller("demo", demo), f"/map/#view=logical&rev={first}&cmp={own}")
    page.wait_for_function(f"window.neutronMap.timeline.diff() && window.neutronMap.revision === {first}")
    assert page.evaluate("window.neutronMap.timeline.diff()")["changed"] == [f"port:{mine['id']}"]
    page.locator(f"#timeline-svg rect.mark[data-revision='{own}']").wait_for(state="attached")
    shown = {
        int(r) for r in page.eval_on_selector_all("#timeline-svg rect.mark", "els => els.map(e => e.dataset.revision)")
    }
    assert own in shown and other not in shown  # alt's change is not in demo's history
    drawn = page.evaluate("window.neutronMap.visibleIds()")
    assert drawn and not any(theirs["id"] in i or alt in i for i in drawn)
    assert theirs["id"] not in page.content() and alt not in page.content()
