"""The collapsed physical view in real headless Chromium (synthetic cloud, no lab): hosts drawn alone with
their counts, a host expanded on double click (its content fetched) and collapsed back, search through the
API focusing a port's device by IP, and a delta on a collapsed host moving its counts.

The threshold is lowered for the test's server (DASHBOARD_MAP_COLLAPSE_ABOVE_HOSTS=2) so that four hosts
count as large."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from bench.synthetic import synthetic_cloud
from tests.browser import caller, daphne_server, off_loop, open_map, wait_drawn
from tests.conftest import ARTIFACTS
from tests.map_fixtures import publish_graph
from topology.join import join

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
HOSTS, PORTS = 4, 12
ADMIN = caller("admin", "admin-project", admin=True)


@pytest.fixture
def cloud(transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, dict[str, Any], Any]]:
    data, reports = synthetic_cloud(HOSTS, PORTS, 2, 1)
    graph = join(data, reports).to_dict()
    publish_graph(graph)
    monkeypatch.setenv("DASHBOARD_MAP_COLLAPSE_ABOVE_HOSTS", "2")
    with daphne_server(ARTIFACTS / "daphne-map-collapsed.log") as url:
        yield url, data, graph


def host_box(host: str) -> str:
    return f"g.box.kind-host[data-id='host:{host}']"


def double_click(page: Any, host: str) -> None:
    """A double click on the host's own box, in its top left corner (tunnels between boxes cross their
    middle; an expanded host's bridges and namespaces fill the rest)."""
    box = page.locator(host_box(host) + " rect").bounding_box()
    page.mouse.dblclick(box["x"] + 4, box["y"] + 4)


def test_it_draws_hosts_alone_and_expands_one_on_double_click(cloud: Any, browser: Any) -> None:
    url, _, graph = cloud
    page = open_map(browser, url, ADMIN)
    assert page.evaluate("window.neutronMap.collapsed()") == {"expanded": []}
    assert sorted(page.evaluate("window.neutronMap.visibleIds()")) == [f"host:compute{i:04d}" for i in range(HOSTS)]
    assert page.locator("g.box.kind-host").count() == HOSTS
    ifaces = sorted(n["id"] for n in graph["nodes"] if n["kind"] == "iface" and n.get("host") == "compute0001")
    label = page.locator(host_box("compute0001") + " text.box-sub").text_content() or ""
    assert f"{len(ifaces)} ifaces" in label
    page.screenshot(path=str(ARTIFACTS / "map-collapsed-hosts.png"))

    double_click(page, "compute0001")
    page.wait_for_function("window.neutronMap.collapsed().expanded.includes('host:compute0001')")
    page.wait_for_function("window.neutronMap.visibleIds().filter((id) => id.startsWith('iface:')).length >= 1")
    shown = page.evaluate("window.neutronMap.visibleIds()")
    assert all(
        i.startswith(("host:", "iface:compute0001:", "bridge:compute0001:", "netns:compute0001:")) for i in shown
    )
    loaded = page.evaluate(
        "fetch('/api/v1/topology/hosts/compute0001/').then((r) => r.json()).then((d) => d.nodes.map((n) => n.id))"
    )
    assert sorted(i for i in loaded if i.startswith("iface:")) == ifaces
    assert page.locator("g.box.kind-bridge").count() >= 2  # br-int, br-tun (and qbr) of compute0001
    page.screenshot(path=str(ARTIFACTS / "map-collapsed-expanded.png"))

    double_click(page, "compute0001")
    page.wait_for_function("window.neutronMap.collapsed().expanded.length === 0")
    page.wait_for_function("window.neutronMap.visibleIds().every((id) => id.startsWith('host:'))")


def test_search_by_ip_expands_the_port_s_host_and_focuses_its_device(cloud: Any, browser: Any) -> None:
    url, data, _ = cloud
    vm_ports = [p for p in data["ports"] if p["device_owner"] == "compute:nova"]
    port = next(p for p in vm_ports if p["binding:host_id"] == "compute0003")
    ip = port["fixed_ips"][0]["ip_address"]
    tap = f"iface:compute0003:-:tap{port['id'][:11]}"
    page = open_map(browser, url, ADMIN)
    page.fill("#map-search", ip)
    page.wait_for_selector("#map-search-results li span.kind")
    assert page.locator("#map-search-results li span.kind").first.text_content() == "port"
    assert page.locator("#map-search-results li span.name").first.text_content() == ip
    page.press("#map-search", "Enter")
    page.wait_for_function(f"window.neutronMap.selected === {tap!r}")
    assert page.evaluate("window.neutronMap.collapsed().expanded") == ["host:compute0003"]
    assert tap in page.evaluate("window.neutronMap.visibleIds()")
    page.screenshot(path=str(ARTIFACTS / "map-collapsed-search.png"))


def without(graph: dict[str, Any], gone: set[str]) -> dict[str, Any]:
    changed = copy.deepcopy(graph)
    changed["nodes"] = [n for n in changed["nodes"] if n["id"] not in gone]
    changed["edges"] = [e for e in changed["edges"] if e["source"] not in gone and e["target"] not in gone]
    return changed


def sub_text(page: Any, host: str) -> str:
    return page.locator(host_box(host) + " text.box-sub").text_content() or ""


def test_a_delta_on_a_collapsed_host_moves_its_counts(cloud: Any, browser: Any) -> None:
    url, _, graph = cloud
    page = open_map(browser, url, ADMIN)
    revision = page.evaluate("window.neutronMap.revision")
    on_host = [n for n in graph["nodes"] if n.get("host") == "compute0002"]
    ifaces = sum(1 for n in on_host if n["kind"] == "iface")
    ports = sum(1 for n in on_host if n["kind"] == "port")
    assert f"{ifaces} ifaces" in sub_text(page, "compute0002") and f"{ports} ports" in sub_text(page, "compute0002")
    qvb = next(n["id"] for n in on_host if n["label"].startswith("qvb"))
    port = next(n["id"] for n in on_host if n["kind"] == "port" and n["attrs"].get("device_owner") == "compute:nova")
    off_loop(publish_graph, without(graph, {qvb, port}))
    wait_drawn(page, revision + 1)
    assert f"{ifaces - 1} ifaces" in sub_text(page, "compute0002")
    assert f"{ports - 1} ports" in sub_text(page, "compute0002")  # placed by its removed binds edges
    assert page.evaluate("window.neutronMap.visibleIds().every((id) => id.startsWith('host:'))")


def test_a_delta_on_an_expanded_host_changes_its_nodes(cloud: Any, browser: Any) -> None:
    url, _, graph = cloud
    page = open_map(browser, url, ADMIN)
    double_click(page, "compute0001")
    page.wait_for_function("window.neutronMap.visibleIds().some((id) => id.startsWith('iface:compute0001:'))")
    revision = page.evaluate("window.neutronMap.revision")
    qvb = next(n["id"] for n in graph["nodes"] if n.get("host") == "compute0001" and n["label"].startswith("qvb"))
    assert qvb in page.evaluate("window.neutronMap.visibleIds()")
    off_loop(publish_graph, without(graph, {qvb}))
    wait_drawn(page, revision + 1)
    shown = page.evaluate("window.neutronMap.visibleIds()")
    assert qvb not in shown and any(i.startswith("iface:compute0001:") for i in shown)
    assert not any(i.startswith("iface:compute0002:") for i in shown)  # a collapsed host's content stays out
