"""The path panel's "Verify with the nodes" button on the real lab (allinone), in headless Chromium.

The page is served by one daphne, the controller's agent keeps its channel to another (both on the
test's database and Redis: the probe request crosses the channel layer); the button re-asks the path
with verify=1 and each hop's tracer answer is shown as text beside it. A tenant, by default, is told
the verify needs the admin role.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings

from lab import api as lab_api
from tests.agent_feed import HOST, agent_feed
from tests.browser import daphne_server
from tests.conftest import ARTIFACTS
from tests.test_map_path_lab import map_as, wait_path
from tests.test_path_lab import server as server_of
from tests.test_probes_lab import LOGS, wait_connected
from tests.test_topology_lab import refresh_all

pytestmark = [pytest.mark.lab, pytest.mark.browser, pytest.mark.django_db(transaction=True)]
OUTSIDE = "192.168.1.1"


@pytest.fixture
def server(lab: dict[str, Any], transactional_db: None) -> Iterator[str]:
    with agent_feed(settings.DATABASES["default"]["NAME"], LOGS):
        wait_connected(HOST)
        refresh_all(lab["host"])
        with daphne_server(ARTIFACTS / "daphne-map-verify-lab.log") as url:
            yield url


def test_the_verify_button_shows_each_hops_tracer_answer(server: str, browser: Any, lab: dict[str, Any]) -> None:
    assert lab_api.ping("ubuntu-01", OUTSIDE, timeout=90)
    src = server_of(lab, "ubuntu-01")
    page = map_as(browser, server, lab, "admin", f"view=physical&src={src}&dst={OUTSIDE}")
    first = wait_path(page, "ok")
    assert "verify" not in first and page.locator("#path-verify").text_content() == "Verify with the nodes"
    page.click("#path-verify")
    page.wait_for_function("window.neutronMap.path.result && window.neutronMap.path.result.verify", timeout=60000)
    result = dict(page.evaluate("window.neutronMap.path.result"))
    assert result["verify"]["disagree"] == 0 and result["verify"]["agree"] >= 3, result["verify"]
    panel = page.locator("#path-result")
    assert panel.locator(".hop-verify.verify-agree").count() == result["verify"]["agree"]
    summary = panel.locator(".verify-summary").text_content()
    assert f"{result['verify']['agree']} agree, 0 disagree" in summary
    br_ex = panel.locator(f"li.hop[data-node='bridge:{HOST}:br-ex'] .hop-verify")
    assert br_ex.text_content().startswith("✓ ofproto/trace agrees: leaves by ex-outside (br-ex)")
    qrouter = panel.locator(f"li.hop[data-node^='netns:{HOST}:qrouter-'] .hop-verify")
    assert qrouter.text_content().startswith("✓ ip route get agrees: routed out of qg-")
    page.screenshot(path=str(ARTIFACTS / "map-path-verify.png"))
    # the tracers ran once, on the button: a live update re-asks without them
    assert page.locator("#path-verify").text_content() == "Verify again"

    tenant = map_as(browser, server, lab, "demo", f"src={src}&dst={OUTSIDE}")
    wait_path(tenant, "ok")
    tenant.click("#path-verify")
    tenant.wait_for_selector("#path-result .path-error")
    assert "needs the admin role" in tenant.locator("#path-result .path-error").text_content()
