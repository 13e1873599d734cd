"""The Floating IPs and Routers pages in real Chromium, against real daphne, a real worker and the lab.

demo logs in through the login page (Keystone), allocates a floating IP,
associates it with ubuntu-01 through the target picker, sees both jobs
progress to ``succeeded`` live, and the outside host then pings that address.
"""

from __future__ import annotations

from typing import Any

import openstack.connection
import pytest

from tasks.models import Job, JobKind
from tests.browser import chromium, daphne_server, login
from tests.conftest import ARTIFACTS, lab_password
from tests.test_actions_lab import JOBS_BROKER_URL, celery_worker

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
        lab: dict[str, Any], served: str, demo_cloud: openstack.connection.Connection) -> None:
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
            page.wait_for_function("document.querySelectorAll('#job-feed li.state-succeeded').length >= 2",
                                   timeout=60000)
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
        lab: dict[str, Any], served: str, demo_cloud: openstack.connection.Connection) -> None:
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

