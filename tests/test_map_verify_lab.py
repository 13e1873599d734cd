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
def server(lab: dict[str, Any], transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("NEUTRON_MAP_AGENT_ACTIVE_PROBES", "true")  # the agent may send an active check's ping
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


def test_send_a_real_ping_shows_the_counters_each_hop_moved(server: str, browser: Any, lab: dict[str, Any]) -> None:
    cirros = lab["vms"]["cirros-01"]
    src = server_of(lab, "cirros-01")
    page = map_as(browser, server, lab, "admin", f"view=physical&src={src}&dst={OUTSIDE}")
    wait_path(page, "ok")
    page.click("#path-active")
    page.wait_for_function("window.neutronMap.path.result && window.neutronMap.path.result.active", timeout=60000)
    panel = page.locator("#path-result")
    summary = panel.locator(".active-summary").text_content() or ""
    assert summary.startswith(f"A real ping to {OUTSIDE} was answered: counters moved on "), summary
    assert f"sent from {cirros['ip']} itself" in summary
    qvo = panel.locator(f"li.hop[data-node='iface:{HOST}:-:qvo{cirros['port_id'][:11]}'] .hop-active.moved")
    assert (qvo.text_content() or "").startswith("▲ moved: +"), qvo.text_content()
    snat = panel.locator(f"li.hop[data-node^='netns:{HOST}:qrouter-'] .hop-active.moved").text_content() or ""
    assert "SNAT to:" in snat, snat
    assert page.locator("#path-active").text_content() == "Send again"
    page.screenshot(path=str(ARTIFACTS / "map-path-active.png"))

    tenant = map_as(browser, server, lab, "demo", f"src={src}&dst={OUTSIDE}")
    wait_path(tenant, "ok")
    assert tenant.locator("#path-verify").count() == 1 and tenant.locator("#path-active").count() == 0
