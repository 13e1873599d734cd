"""The map's timeline pages to the left in real headless Chromium (synthetic cloud, real graph service, no lab).

231 revisions are made for real (a VM port's status flipped, the graph rebuilt each time); the
timeline lists the newest 200, and a drag along the track to its left edge loads the older page
(GET .../history/?before=<the oldest listed>): every revision down to 1 is a mark, oldest first,
and the shown revision is one of the older ones once let go there.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser import caller, off_loop, open_map, wait_drawn
from tests.history_inputs import Inputs
from tests.test_timeline_browser import cloud as cloud  # the fixtures this module uses
from tests.test_timeline_browser import port_down, vm_ports
from tests.test_timeline_browser import server as server

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ADMIN = caller("admin", "admin-project", admin=True)
FLIPS = 230


def flips(inputs: Inputs) -> int:
    port = vm_ports(inputs)[0]
    revision = 0
    for n in range(FLIPS):
        revision = port_down(inputs, port) if n % 2 == 0 else up(inputs, port)
    return revision


def up(inputs: Inputs, port: dict[str, Any]) -> int:
    from tests.history_inputs import rebuild

    port["status"] = "ACTIVE"
    inputs.store_cloud()
    return rebuild()[0]


def revisions_shown(page: Any) -> list[int]:
    return [
        int(r) for r in page.eval_on_selector_all("#timeline-svg rect.mark", "els => els.map(e => e.dataset.revision)")
    ]


def test_dragging_to_the_left_edge_loads_the_older_revisions(cloud: Inputs, server: str, browser: Any) -> None:
    newest = off_loop(flips, cloud)
    assert newest > 200
    page = open_map(browser, server, ADMIN, "/map/#view=logical")
    wait_drawn(page, newest)
    page.click("#timeline-toggle")
    page.locator(f"#timeline-svg rect.mark[data-revision='{newest}']").wait_for(state="attached")
    first = revisions_shown(page)
    assert len(first) == 200 and first[-1] == newest and first[0] == newest - 199
    assert "older: drag or scroll to the left edge" in (page.locator("#timeline-status").text_content() or "")
    track = page.locator("#timeline-svg").bounding_box()
    live = page.locator("#timeline-svg rect.live-end").bounding_box()
    page.mouse.move(live["x"] + live["width"] / 2, live["y"] + live["height"] / 2)
    page.mouse.down()
    page.mouse.move(track["x"] + 2, live["y"] + live["height"] / 2, steps=12)  # to the left edge
    page.locator("#timeline-svg rect.mark[data-revision='1']").wait_for(state="attached")
    page.mouse.up()
    shown = revisions_shown(page)
    assert shown == list(range(1, newest + 1))  # every revision a mark, oldest first, none twice
    assert "older:" not in (page.locator("#timeline-status").text_content() or "")  # the oldest is listed
    page.wait_for_function(
        f"window.neutronMap.timeline.revision !== null && window.neutronMap.timeline.revision < {newest - 199}"
    )
