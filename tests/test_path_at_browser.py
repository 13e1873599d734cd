"""The path overlay replayed at a past revision in real headless Chromium (synthetic cloud through the real
graph service, no lab).

A VM's way out is on the map (ok); its port is set administratively down (a revision: the overlay,
following live updates, turns broken) and up again (ok). The timeline, dragged to the broken revision,
shows the path as it was then: the overlay broken again, the panel saying which revision and that the
hosts' reports are today's; back to live, the live path (ok), without that note.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bench.path import OUTSIDE, add_gateways_and_fips
from tests.browser import caller, daphne_server, off_loop, open_map, wait_drawn
from tests.conftest import ARTIFACTS
from tests.history_inputs import Inputs, rebuild
from tests.test_timeline_browser import replay, vm_ports

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ADMIN = caller("admin", "admin-project", admin=True)


@pytest.fixture
def cloud(transactional_db: None) -> Inputs:
    inputs = Inputs(hosts=2, ports=6, projects=2)
    add_gateways_and_fips(inputs.cloud, inputs.reports, fip_every=2)
    inputs.store_all()
    rebuild()
    return inputs


@pytest.fixture
def server(cloud: Inputs) -> Iterator[str]:
    with daphne_server(ARTIFACTS / "daphne-path-at.log") as url:
        yield url


def admin_state(inputs: Inputs, port: dict[str, Any], up: bool) -> int:
    port["admin_state_up"] = up
    inputs.store_cloud()
    return rebuild()[0]


def wait_path(page: Any, revision: int, verdict: str, past: bool) -> None:
    """Until the path shown is the answer at ``revision`` with ``verdict``, explained in the past or live."""
    shown = f"r.revision === {revision} && r.verdict === '{verdict}' && !!r.past === {str(past).lower()}"
    page.wait_for_function(f"(() => {{ const r = window.neutronMap.path.result; return !!r && {shown}; }})()")


def failed_badges(page: Any) -> list[dict[str, Any]]:
    return [b for b in page.evaluate("window.neutronMap.path.badges()") if b["status"] == "fail"]


def test_the_timeline_replays_the_path_broken_at_its_revision_and_live_restores_it(
    cloud: Inputs, server: str, browser: Any
) -> None:
    port = vm_ports(cloud)[0]
    page = open_map(browser, server, ADMIN, "/map/#view=logical")
    first = page.evaluate("window.neutronMap.revision")
    page.evaluate(f"window.neutronMap.path.explain('port:{port['id']}', '{OUTSIDE}', 'icmp')")
    wait_path(page, first, "ok", past=False)
    assert page.evaluate("window.neutronMap.path.badges().length") > 1 and not failed_badges(page)

    broken = off_loop(admin_state, cloud, port, False)
    wait_drawn(page, broken)
    wait_path(page, broken, "broken", past=False)  # the overlay follows live updates
    fixed = off_loop(admin_state, cloud, port, True)
    wait_drawn(page, fixed)
    wait_path(page, fixed, "ok", past=False)
    assert not failed_badges(page)

    replay(page, broken)
    page.wait_for_function(f"window.neutronMap.stats.drawnRevision === {broken}")
    wait_path(page, broken, "broken", past=True)
    assert failed_badges(page)  # the overlay broken, as the path was then
    assert page.locator("#map-svg g.path-badge.status-fail").count() >= 1
    assert page.locator("#map-svg path.path-line.after-fail").count() == 1
    note = page.locator("#path-result .path-past").text_content() or ""
    assert f"as at revision {broken}" in note and f"live is revision {fixed}" in note and "today's" in note
    assert page.locator("#path-result .verdict").text_content() == "✗ broken"
    assert page.locator("#path-verify").count() == 0  # the tracers answer for today's datapath only
    page.screenshot(path=str(ARTIFACTS / "path-at-past-revision.png"))

    page.click("#map-past-live")
    wait_drawn(page, fixed)
    wait_path(page, fixed, "ok", past=False)
    assert not failed_badges(page) and page.locator("#map-svg g.path-badge.status-fail").count() == 0
    assert page.locator("#path-result .path-past").count() == 0
    assert page.locator("#path-verify").count() == 1
