"""A full VLAN range in real Chromium (issue 15), on the real vlan lab, against a real daphne.

alt fills physnet1:100:104 for real (Neutron refuses the next network); the map then draws a "!" badge on
each VLAN network with the range's words (admin: the range itself; a member: only that new VLAN networks
will be refused), the panel lists it as text, and the routers page says it. demo sees no network of alt's;
once the networks are deleted, the badges are gone. Grouped with the other vlan tests (vlan_lab).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import daphne_server
from tests.conftest import ARTIFACTS, lab_connection
from tests.test_map_lab import map_as
from tests.test_path_vlan_lab import FOR_MEMBERS, FULL, vlan_range_filled
from tests.test_topology_dvr import joined
from topology import services

pytestmark = [pytest.mark.lab, pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = ARTIFACTS / "vlan-range"
JsonDict = dict[str, Any]


@pytest.fixture
def served(vlan_lab: JsonDict, transactional_db: None) -> Iterator[str]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    joined(vlan_lab)
    with daphne_server(SHOTS / "daphne.log") as url:
        yield url


def logical_map(browser: Any, url: str, state: JsonDict, user: str) -> Any:
    page = map_as(browser, url, state, user)
    page.click("#view-logical")
    page.wait_for_function("window.neutronMap.drawnView === 'logical'")
    return page


def badges(page: Any) -> dict[str, str]:
    """network node id -> the text of its "!" badge, for every network drawn with one."""
    found: dict[str, str] = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll("g.box[data-id^='network:']")]
             .filter((g) => g.querySelector("g.warn-badge"))
             .map((g) => [g.dataset.id, g.querySelector("g.warn-badge title").textContent]))"""
    )
    return found


def test_a_full_vlan_range_is_a_badge_on_each_vlan_network_in_chromium_and_gone_once_freed(
    vlan_lab: JsonDict, served: str, browser: Any
) -> None:
    own = {n for name, n in vlan_lab["networks"].items() if name != "public"}
    with vlan_range_filled(lab_connection("lab-alt")) as (made, _):
        services.refresh_cloud()
        nets = {f"network:{n}" for n in {*own, *(m.id for m in made)}}
        admin = logical_map(browser, served, vlan_lab, "admin")
        assert badges(admin) == {n: FULL for n in nets}, badges(admin)
        admin.locator(f"g.box[data-id='network:{made[0].id}'] rect").first.click()
        assert admin.locator("#panel-body ul.warnings li").all_text_contents() == [FULL]
        admin.screenshot(path=str(SHOTS / "map-admin.png"))
        admin.goto(f"{served}/routers/")
        assert admin.locator("p.vlan-range-full").all_text_contents() == [FULL]
        alt = logical_map(browser, served, vlan_lab, "alt")
        assert badges(alt) == {n: FOR_MEMBERS for n in nets}, badges(alt)
        assert "100-104" not in alt.content()
        demo = logical_map(browser, served, vlan_lab, "demo")
        assert badges(demo) == {}, "no network of demo's is a VLAN of physnet1; alt's are not shown"
        for secret in (*nets, *(m.name for m in made), vlan_lab["projects"]["alt"]):
            assert secret.removeprefix("network:") not in demo.content(), secret
    services.refresh_cloud()
    admin = logical_map(browser, served, vlan_lab, "admin")
    assert badges(admin) == {}
