"""The Floating IPs and Routers pages in real Chromium, against real daphne, a real worker and the lab.

demo logs in through the login page (Keystone), allocates a floating IP,
associates it with ubuntu-01 through the target picker, sees both jobs
progress to ``succeeded`` live, and the outside host then pings that address.
"""

from __future__ import annotations

from typing import Any

import openstack.connection
import pytest
from django.conf import settings

from tasks.models import Job, JobKind
from tests.agent_feed import agent_feed
from tests.browser import chromium, daphne_server, login
from tests.conftest import ARTIFACTS, lab_password
from tests.test_actions_lab import JOBS_BROKER_URL, celery_worker
from tests.test_topology_lab import refresh_all

pytestmark = [pytest.mark.lab, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = ARTIFACTS / "jobs"
SHOTS.mkdir(parents=True, exist_ok=True)


@pytest.fixture
def served(lab: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    # daphne (a subprocess) queues jobs on the test broker, where this test's worker listens.
    monkeypatch.setenv("CELERY_BROKER_URL", JOBS_BROKER_URL)
    with celery_worker("page-worker.log"), daphne_server(SHOTS / "daphne.log") as url:
        yield url


def test_demo_associates_a_floating_ip_in_the_page_and_the_outside_pings_it(
    lab: dict[str, Any], served: str, demo_cloud: openstack.connection.Connection
) -> None:
    from lab import api as lab_api

    ubuntu = lab["vms"]["ubuntu-01"]
    fip_id = ""
    try:
        with chromium() as browser:
            page = browser.new_page()
            login(page, served, "demo", lab_password(lab, "demo"), next_url="/floating-ips/")
            page.wait_for_selector("#allocate-network option", state="attached")
            page.click("#allocate-form button[type=submit]")
            page.wait_for_selector("#job-feed li.state-succeeded", timeout=60000)
            allocated = Job.objects.get(kind=JobKind.FIP_ALLOCATE)
            assert allocated.result is not None
            fip_id, address = allocated.result["floating_ip_id"], allocated.result["floating_ip_address"]
            row = f'#fips tr[data-id="{fip_id}"]'
            page.click(f"{row} button.associate", timeout=30000)
            radio = f'#targets input[data-port="{ubuntu["port_id"]}"]'
            page.wait_for_selector(radio)
            page.check(radio)
            page.wait_for_selector("#path-preview p", timeout=15000)
            page.screenshot(path=str(SHOTS / "fips-picker.png"), full_page=True)
            page.click("#associate-submit")
            page.wait_for_function(
                "document.querySelectorAll('#job-feed li.state-succeeded').length >= 2", timeout=60000
            )
            line = page.locator("#job-feed li").first
            assert line.locator(".job-state").text_content() == "succeeded"
            assert ubuntu["ip"] in (line.locator(".job-message").text_content() or "")
            page.wait_for_selector(f"{row} button.disassociate", timeout=30000)  # the list reloaded itself
            page.screenshot(path=str(SHOTS / "fips-associated.png"), full_page=True)
        assert demo_cloud.network.get_ip(fip_id).port_id == ubuntu["port_id"]
        assert lab_api.ping("outside", address, timeout=90), f"the outside host cannot ping {address}"
    finally:
        if fip_id:
            demo_cloud.network.delete_ip(fip_id, ignore_missing=True)


def test_the_routers_page_offers_only_what_the_role_may_and_shows_names_as_text(
    lab: dict[str, Any], served: str, demo_cloud: openstack.connection.Connection
) -> None:
    nasty = '<img src=x onerror="window.pwned=1">'
    router = demo_cloud.network.create_router(name=nasty)
    try:
        with chromium() as browser:
            for user, snat_offered in (("demo", False), ("admin", True)):
                page = browser.new_page()
                login(page, served, user, lab_password(lab, user), next_url="/routers/")
                row = f'#routers tr[data-id="{router.id}"]'
                page.wait_for_selector(row)
                assert page.locator(f"{row} td.name").text_content() == nasty
                assert page.evaluate("window.pwned") is None
                assert page.locator(f"{row} button.set-gateway").count() == 1
                assert (page.locator(f"{row} td.gateway input[type=checkbox]").count() == 1) is snat_offered
                page.screenshot(path=str(SHOTS / f"routers-{user}.png"), full_page=True)
                page.close()
    finally:
        demo_cloud.network.delete_router(router.id, ignore_missing=True)


def test_the_association_dialog_previews_the_way_in_beside_the_way_out_and_disassociate_asks_first(
    lab: dict[str, Any], served: str, demo_cloud: openstack.connection.Connection
) -> None:
    ubuntu = lab["vms"]["ubuntu-01"]
    public = demo_cloud.network.find_network("public")
    assert public is not None
    fip = demo_cloud.network.create_ip(floating_network_id=public.id, description="dialog test")
    address = fip.floating_ip_address
    dialogs: list[str] = []
    try:
        # The way out is the explainer's walk over the stored topology graph, which Celery beat and the
        # node agent keep in a running dashboard; this test's fresh database has none until it is made.
        # Once a host has reported, a job waits for its next report to confirm the change in the data
        # plane: the lab's real node agent keeps reporting here for as long as the page is driven.
        with agent_feed(settings.DATABASES["default"]["NAME"], SHOTS / "dialog-agent"), chromium() as browser:
            refresh_all(lab["host"])
            page = browser.new_page()
            login(page, served, "demo", lab_password(lab, "demo"), next_url="/floating-ips/")
            row = f'#fips tr[data-id="{fip.id}"]'
            page.click(f"{row} button.associate", timeout=30000)
            page.check(f'#targets input[data-port="{ubuntu["port_id"]}"]')
            page.wait_for_selector("#path-preview .way-out .hops li", timeout=30000)
            ways = page.locator("#path-preview > div")
            assert [ways.nth(i).get_attribute("class") for i in range(ways.count())] == ["way way-in", "way way-out"]
            way_in = [t.strip() for t in page.locator("#path-preview .way-in .hops li").all_text_contents()]
            assert len(way_in) == 5, way_in
            assert "outside" in way_in[0] and address in way_in[0], way_in  # it starts outside, at the FIP
            assert any(f"DNATs {address} to {ubuntu['ip']}" in step for step in way_in), way_in
            assert ubuntu["ip"] in way_in[-1] and "VM" in way_in[-1], way_in  # and ends at the VM
            heading = page.locator("#path-preview .way-in h2").text_content() or ""
            assert heading == f"Way in: outside → {address} → {ubuntu['ip']}"
            out_heading = page.locator("#path-preview .way-out h2").text_content() or ""
            assert out_heading == f"Way out: {ubuntu['ip']} → outside"
            assert page.locator("#path-preview .way-out .hops li").count() >= 3  # the explainer's own walk
            page.screenshot(path=str(SHOTS / "fips-preview-ways.png"), full_page=True)
            page.click("#associate-cancel")

            # Associated (through Neutron: the page's association is tested above), then disassociated.
            demo_cloud.network.update_ip(fip, port_id=ubuntu["port_id"], fixed_ip_address=ubuntu["ip"])
            page.reload()
            page.wait_for_selector(f"{row} button.disassociate", timeout=30000)

            def answer(accept: bool) -> Any:
                def on_dialog(dialog: Any) -> None:
                    dialogs.append(f"{dialog.type}: {dialog.message}")
                    dialog.accept() if accept else dialog.dismiss()

                return on_dialog

            page.once("dialog", answer(False))
            page.click(f"{row} button.disassociate")
            assert dialogs == [f"confirm: Disassociate {address} from {ubuntu['ip']}?"]
            assert not Job.objects.filter(kind=JobKind.FIP_DISASSOCIATE).exists()  # cancelled: nothing queued
            assert demo_cloud.network.get_ip(fip.id).port_id == ubuntu["port_id"]

            page.once("dialog", answer(True))
            page.click(f"{row} button.disassociate")
            page.wait_for_selector("#job-feed li.state-succeeded", timeout=60000)
            assert len(dialogs) == 2
            assert Job.objects.filter(kind=JobKind.FIP_DISASSOCIATE).count() == 1
            assert demo_cloud.network.get_ip(fip.id).port_id is None
    finally:
        demo_cloud.network.delete_ip(fip.id, ignore_missing=True)
