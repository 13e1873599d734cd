"""The packet path on the map of the real lab (scenario allinone), in headless Chromium.

What issue 6 item 3 asks: pick a source and a destination (by typing, from a node's details panel
or by a permalink) and the path lights up with numbered hops over the nodes, the narrative beside
it grouped by host, with the OpenFlow rules (n_packets) and the iptables rules (counters) as
evidence; a port made admin-down for real turns the path broken while the page is open (it
follows live updates) with a red hop and its reason; a tenant cannot trace another project's VM;
a hostile name stays text.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from typing import Any

import openstack.connection
import pytest

from tests.browser import daphne_server, login, off_loop, wait_drawn
from tests.conftest import ARTIFACTS, REPO, lab_password
from tests.test_topology_lab import refresh_all

pytestmark = [pytest.mark.lab, pytest.mark.browser, pytest.mark.django_db(transaction=True)]
OUTSIDE = "192.168.1.1"


@pytest.fixture
def server(lab: dict[str, Any], transactional_db: None) -> Iterator[str]:
    refresh_all(lab["host"])
    with daphne_server(ARTIFACTS / "daphne-map-path-lab.log") as url:
        yield url


def map_as(browser: Any, server: str, lab: dict[str, Any], user: str, hash_: str = "") -> Any:
    page = browser.new_context(viewport={"width": 1700, "height": 1000}).new_page()
    login(page, server, user, lab_password(lab, user))
    if hash_:  # a permalink opened in a new tab of the logged-in session
        first, page = page, page.context.new_page()
        page.goto(f"{server}/map/#{hash_}")
        first.close()
    wait_drawn(page)
    return page


def refreshed(host: str) -> int:
    return int(refresh_all(host).revision)


def pick(page: Any, field: str, text: str, choice: str) -> None:
    """Type into the path form's field and click the suggestion whose text contains ``choice``."""
    page.fill(f"#path-{field}", text)
    page.locator(f"#path-{field}-results li", has_text=choice).first.click()


def wait_path(page: Any, verdict: str | None = None, timeout: float = 30000) -> dict[str, Any]:
    condition = "window.neutronMap.path.result" + (
        f" && window.neutronMap.path.result.verdict === '{verdict}'" if verdict else ""
    )
    page.wait_for_function(condition, timeout=timeout)
    return dict(page.evaluate("window.neutronMap.path.result"))


def badge_ids(page: Any) -> set[str]:
    return {b["id"] for b in page.evaluate("window.neutronMap.path.badges()")}


def test_admin_picks_cirros_and_the_outside_and_the_fip_path_lights_up(
    server: str, browser: Any, lab: dict[str, Any]
) -> None:
    host, router = lab["host"], lab["routers"]["router1"]["id"]
    cirros = lab["vms"]["cirros-01"]
    page = map_as(browser, server, lab, "admin", "view=physical")
    pick(page, "src", "cirros", "cirros-01 (VM)")
    pick(page, "dst", OUTSIDE, f"{OUTSIDE} (IP address)")
    result = wait_path(page)
    assert (result["scenario"], result["verdict"]) == ("north-south-fip", "ok"), result
    # numbered badges over the qrouter namespace and br-ex, joined by the polyline
    qrouter, br_ex = f"netns:{host}:qrouter-{router}", f"bridge:{host}:br-ex"
    assert {qrouter, br_ex, f"bridge:{host}:br-int"} <= badge_ids(page)
    assert page.locator(f"g.path-badge[data-id='{qrouter}']").is_visible()
    numbers = [n for n, h in enumerate(result["hops"], 1) if h["node"] == f"bridge:{host}:br-int"]
    assert len(numbers) == 2  # br-int is crossed twice: one badge carries both numbers
    assert page.locator(f"g.path-badge[data-id='bridge:{host}:br-int'] text").text_content() == ",".join(
        map(str, numbers)
    )
    assert page.locator("path.path-line").count() == 1
    # the narrative: verdict, hops grouped by host, SNAT to the floating IP with the rule's counters
    panel = page.locator("#path-result")
    assert "the path works" in panel.locator(".path-verdict").text_content()
    assert "north-south with a floating IP" in panel.text_content()
    assert panel.locator(".host-group .host-name").first.text_content() == f"on {host}"
    snat = panel.locator(f"li.hop[data-node='{qrouter}']")
    what = snat.locator(".hop-what").text_content()
    assert f"SNATs {cirros['ip']} to its floating IP {cirros['floating_ip']}" in what
    evidence = snat.locator(".hop-evidence").text_content()
    assert f"-j SNAT --to-source {cirros['floating_ip']}" in evidence and "[" in evidence  # [packets:bytes]
    # the OpenFlow rules of the qvo hop, with their packet counters, unfold
    flows = panel.locator(f"li.hop[data-node='iface:{host}:-:qvo{cirros['port_id'][:11]}'] details.hop-flows")
    assert "n_packets" in flows.locator("summary").text_content()
    flows.locator("summary").click()
    assert "n_packets=" in flows.locator("pre").text_content()
    page.screenshot(path=str(ARTIFACTS / "map-path-north-south-fip.png"))
    shutil.copy(ARTIFACTS / "map-path-north-south-fip.png", REPO / "docs" / "screenshots" / "path.png")

    # a click on ubuntu-01's VM on the map, "set as source": the SNAT walk through the router's gateway IP
    page.locator(f"g.box[data-id='netns:{host}:vm-ubuntu-01'] > rect").click(position={"x": 12, "y": 8})
    page.locator("#panel-body button.set-src").click()
    page.wait_for_function(
        "window.neutronMap.path.result && window.neutronMap.path.result.scenario === 'north-south-snat'"
    )
    snat = page.locator(f"#path-result li.hop[data-node='{qrouter}'] .hop-evidence").text_content()
    assert f"SNAT --to-source {lab['routers']['router1']['gateway_ip']}" in snat
    page.wait_for_function("location.hash.includes('src=') && location.hash.includes('dst=')")
    page.screenshot(path=str(ARTIFACTS / "map-path-north-south-snat.png"))


def test_a_permalink_opens_the_inbound_path_with_its_dnat_hop(server: str, browser: Any, lab: dict[str, Any]) -> None:
    cirros, router = lab["vms"]["cirros-01"], lab["routers"]["router1"]["id"]
    page = map_as(browser, server, lab, "admin", f"view=logical&src={OUTSIDE}&dst={cirros['floating_ip']}")
    result = wait_path(page)
    assert (result["scenario"], result["verdict"]) == ("inbound-fip", "ok"), result
    assert page.input_value("#path-src") == OUTSIDE
    # the logical view names the hops by their router and ports
    shown = badge_ids(page)
    assert f"router:{router}" in shown and f"port:{cirros['port_id']}" in shown
    dnat = page.locator("#path-result li.hop", has_text="DNAT").first
    assert f"DNAT --to-destination {cirros['ip']}" in dnat.locator(".hop-evidence").text_content()
    page.screenshot(path=str(ARTIFACTS / "map-path-inbound-fip.png"))


@pytest.fixture
def restore_ubuntu_port(lab: dict[str, Any], admin_cloud: openstack.connection.Connection) -> Iterator[str]:
    port = lab["vms"]["ubuntu-01"]["port_id"]
    try:
        yield port
    finally:
        admin_cloud.network.update_port(port, admin_state_up=True)
        off_loop(refreshed, lab["host"])


def test_an_admin_down_port_turns_the_open_path_red_live(
    server: str,
    browser: Any,
    lab: dict[str, Any],
    admin_cloud: openstack.connection.Connection,
    restore_ubuntu_port: str,
) -> None:
    ubuntu = lab["vms"]["ubuntu-01"]
    page = map_as(browser, server, lab, "admin", "view=physical")
    page.fill("#path-src", f"server:{ubuntu['server_id']}")  # an id typed as is
    page.fill("#path-dst", OUTSIDE)
    page.click("#path-go")
    result = wait_path(page, "ok")
    requests = page.evaluate("window.neutronMap.path.requests")
    admin_cloud.network.update_port(restore_ubuntu_port, admin_state_up=False)
    revision = off_loop(refreshed, lab["host"])
    wait_drawn(page, revision)
    result = wait_path(page, "broken")  # asked again by the page itself: nobody clicked
    assert page.evaluate("window.neutronMap.path.requests") > requests
    assert result["revision"] >= revision
    assert "port_admin_down" in {p["code"] for p in result["problems"]}
    failed = page.locator("#path-result li.hop.status-fail").first
    assert "administratively down" in failed.locator(".hop-evidence").text_content()
    assert "rgb(192, 57, 43)" in failed.locator(".hop-no").evaluate("e => getComputedStyle(e).backgroundColor")
    assert page.locator("g.path-badge.status-fail").count() >= 1
    assert "broken" in page.locator("#path-result .path-verdict").text_content()
    assert "set admin_state_up" in page.locator("#path-result .path-problems").text_content()
    page.screenshot(path=str(ARTIFACTS / "map-path-broken-admin-down.png"))


def test_a_tenant_cannot_trace_another_projects_vm(server: str, browser: Any, lab: dict[str, Any]) -> None:
    cirros = lab["vms"]["cirros-01"]
    page = map_as(browser, server, lab, "alt")
    page.fill("#path-src", "cirros")
    page.wait_for_selector("#path-src-results li.muted")  # nothing of demo's is offered
    assert "cirros" not in page.locator("#path-src-results").text_content()
    page.fill("#path-src", f"server:{cirros['server_id']}")
    page.fill("#path-dst", OUTSIDE)
    page.click("#path-go")
    page.wait_for_function("window.neutronMap.path.error")
    error = page.locator("#path-result .path-error").text_content()
    assert error.startswith("Not found") and "your own project" in error
    assert cirros["ip"] not in error and page.locator("g.path-badge").count() == 0
    page.screenshot(path=str(ARTIFACTS / "map-path-tenant-404.png"))


def test_demo_sees_its_path_and_infrastructure_steps_without_others_objects(
    server: str, browser: Any, lab: dict[str, Any]
) -> None:
    cirros = lab["vms"]["cirros-01"]
    page = map_as(browser, server, lab, "demo")
    pick(page, "src", "cirros", "cirros-01 (VM)")
    pick(page, "dst", OUTSIDE, "IP address")
    result = wait_path(page, "ok")
    assert result["scenario"] == "north-south-fip"
    assert f"port:{cirros['port_id']}" in badge_ids(page)
    hidden = [n for n, h in enumerate(result["hops"], 1) if not h["node"]]
    for n in hidden:  # what the hop does is told, whose it is is not
        hop = page.locator(f"#path-result li.hop[data-hop='{n}']")
        assert "infrastructure step" in hop.text_content()
        assert hop.locator(".hop-what").text_content()
    page.screenshot(path=str(ARTIFACTS / "map-path-tenant-demo.png"))


def test_a_hostile_port_name_stays_text(
    server: str, browser: Any, lab: dict[str, Any], demo_cloud: openstack.connection.Connection
) -> None:
    hostile = f"<img src=x onerror=alert(1)>{uuid.uuid4().hex[:4]}"
    port = demo_cloud.network.create_port(network_id=lab["networks"]["private"], name=hostile)
    try:
        off_loop(refreshed, lab["host"])
        page = map_as(browser, server, lab, "demo")
        dialogs: list[str] = []

        def on_dialog(dialog: Any) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        pick(page, "src", "onerror", hostile)
        pick(page, "dst", OUTSIDE, "IP address")
        result = wait_path(page, "broken")
        assert "port_unbound" in {p["code"] for p in result["problems"]}
        assert page.input_value("#path-src").startswith(hostile)
        assert page.locator("#path-result .path-summary").text_content().startswith(f"ICMP from {hostile} (")
        assert page.locator("#path-result li.hop.status-fail").count() >= 1
        page.fill("#path-dst", "onerror")  # offered as text in the suggestions too
        assert hostile in page.locator("#path-dst-results li", has_text="onerror").first.text_content()
        assert page.locator("img").count() == 0 and dialogs == []
        page.screenshot(path=str(ARTIFACTS / "map-path-hostile-name.png"))
    finally:
        demo_cloud.network.delete_port(port)
        off_loop(refreshed, lab["host"])
