"""The legend never hides the packet path on the real lab's physical view (scenario allinone, issue 14 item 4).

cirros-01 to the outside, as demo (its physical view: its own VM's devices, the infrastructure redacted)
and as admin: at the path's fit and at the default fit (the Fit button), the first hop drawn (hop 1,
the VM's tap) is on the stage and its badge does not meet the legend's box.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ARTIFACTS
from tests.test_map_legend_page import assert_clear_of_legend, settled
from tests.test_map_path_lab import OUTSIDE, map_as, pick, server, wait_path

pytestmark = [pytest.mark.lab, pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["server"]  # the lab map's daphne, shared with test_map_path_lab


@pytest.mark.parametrize("user", ["demo", "admin"])
def test_hop_one_is_clear_of_the_legend_on_the_physical_view(
    server: str, browser: Any, lab: dict[str, Any], user: str
) -> None:
    page = map_as(browser, server, lab, user, "view=physical")
    pick(page, "src", "cirros", "cirros-01 (VM)")
    pick(page, "dst", OUTSIDE, "IP address")
    wait_path(page, "ok")
    page.wait_for_function("window.neutronMap.path.badges().length > 0")
    settled(page)
    assert_clear_of_legend(page, "the path's fit")
    page.click("#fit")
    settled(page)
    assert_clear_of_legend(page, "the default fit")
    page.screenshot(path=str(ARTIFACTS / f"map-legend-clear-lab-{user}.png"))
