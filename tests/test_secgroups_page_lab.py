"""The Security groups page in real Chromium, against real daphne, a real worker, the node agent and the lab.

demo removes the ICMP rule of its default group in the page (asked first), the job runs live to
``succeeded`` and the outside host's ping of cirros-01's floating IP then fails; "Open ICMP and SSH"
puts it back and the ping answers. The admin sees every project's ``default`` under its project's
name. A hostile group name stays text. On the map, a path broken by ``sg_no_ingress`` links to the
page with the port's groups marked.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openstack.connection
import pytest
from django.conf import settings

from lab import api as lab_api
from tasks.models import Job, JobKind, JobState
from tests.agent_feed import agent_feed
from tests.browser import daphne_server, login, wait_drawn
from tests.conftest import ARTIFACTS, lab_password
from tests.lab_jobs import JOBS_BROKER_URL, celery_worker
from tests.test_secgroups_lab import icmp_rule
from tests.test_secgroups_lab import icmp_ssh_restored as icmp_ssh_restored  # a fixture, used by name
from tests.test_topology_lab import refresh_all

pytestmark = [pytest.mark.lab, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = ARTIFACTS / "secgroups"
SHOTS.mkdir(parents=True, exist_ok=True)
OUTSIDE = "192.168.1.1"
Cloud = openstack.connection.Connection


@pytest.fixture
def served(lab: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # daphne (a subprocess) queues jobs on the test broker, where this test's worker listens; the node
    # agent's reports confirm the jobs in the data plane and keep the map's graph current.
    monkeypatch.setenv("CELERY_BROKER_URL", JOBS_BROKER_URL)
    with (
        agent_feed(settings.DATABASES["default"]["NAME"], SHOTS / "page-agent"),
        celery_worker("secgroups-page-worker.log"),
        daphne_server(SHOTS / "daphne.log") as url,
    ):
        refresh_all(lab["host"])
        yield url


def test_demo_removes_the_icmp_rule_in_the_page_and_opens_it_again_and_the_pings_agree(
    lab: dict[str, Any], served: str, icmp_ssh_restored: str, demo_cloud: Cloud, browser: Any
) -> None:
    group = icmp_ssh_restored
    address = lab["floating_ips"]["cirros-01"]["floating_ip_address"]
    rule = icmp_rule(demo_cloud, group)
    page = browser.new_page()
    asked: list[str] = []

    def on_dialog(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", on_dialog)
    login(page, served, "demo", lab_password(lab, "demo"), next_url="/security-groups/")
    section = f'#secgroups section.secgroup[data-id="{group}"]'
    page.wait_for_selector(f'{section} tr.rule[data-id="{rule.id}"]')
    assert page.locator(f"{section} button.open-icmp-ssh").count() == 0  # both are open already
    page.screenshot(path=str(SHOTS / "secgroups-demo.png"), full_page=True)
    page.click(f'{section} tr.rule[data-id="{rule.id}"] button.remove-rule')
    page.wait_for_selector("#job-feed li.state-succeeded", timeout=90000)
    assert asked == ['Remove the rule "ingress IPv4 icmp from 0.0.0.0/0" from default?']
    removed = Job.objects.get(kind=JobKind.SECGROUP_RULE_DELETE)
    assert removed.state == JobState.SUCCEEDED and (removed.result or {})["observed"]["dataplane_ok"] is True
    page.wait_for_selector(f'{section} tr.rule[data-id="{rule.id}"]', state="detached", timeout=30000)
    assert not lab_api.ping("outside", address, timeout=8.0)

    page.click(f"{section} button.open-icmp-ssh", timeout=30000)  # offered now that ICMP is closed
    page.wait_for_function("document.querySelectorAll('#job-feed li.state-succeeded').length >= 2", timeout=90000)
    page.wait_for_selector(f"{section} button.open-icmp-ssh", state="detached", timeout=30000)  # both open again
    assert page.locator(f"{section} button.close-icmp-ssh").count() == 1
    assert lab_api.ping("outside", address, timeout=60)
    page.screenshot(path=str(SHOTS / "secgroups-demo-reopened.png"), full_page=True)


def test_the_admin_sees_each_default_under_its_project_and_names_stay_text(
    lab: dict[str, Any], served: str, demo_cloud: Cloud, alt_cloud: Cloud, browser: Any
) -> None:
    list(alt_cloud.network.security_groups())  # Neutron makes alt's default group on its first list
    nasty = '<img src=x onerror="window.pwned=1">'
    hostile = demo_cloud.network.create_security_group(name=nasty, description=nasty)
    try:
        page = browser.new_page()
        login(page, served, "admin", lab_password(lab, "admin"), next_url="/security-groups/")
        for project in ("demo", "alt"):
            part = f'#secgroups .project-groups[data-project="{lab["projects"][project]}"]'
            page.wait_for_selector(part)
            assert page.locator(f"{part} > h2").text_content() == f"Project {project}"
            assert page.locator(f"{part} section.secgroup .name", has_text="default").count() == 1
        row = f'#secgroups section.secgroup[data-id="{hostile.id}"]'
        assert page.locator(f"{row} .name").text_content() == nasty
        assert page.locator(f"{row} .project").text_content() == " · project demo"
        assert page.evaluate("window.pwned") is None
        page.screenshot(path=str(SHOTS / "secgroups-admin.png"), full_page=True)

        # alt's page holds nothing of demo's
        alt = browser.new_page()
        login(alt, served, "alt", lab_password(lab, "alt"), next_url="/security-groups/")
        alt.wait_for_selector("#secgroups section.secgroup")
        assert alt.locator(f'#secgroups section.secgroup[data-id="{hostile.id}"]').count() == 0
        assert alt.locator(f'#secgroups section.secgroup[data-project="{lab["projects"]["demo"]}"]').count() == 0
        assert alt.locator("#secgroups .project-groups").count() == 0  # a member's page is not split by project
    finally:
        demo_cloud.network.delete_security_group(hostile.id, ignore_missing=True)


def test_a_path_broken_by_the_security_group_links_to_the_ports_groups(
    lab: dict[str, Any], served: str, browser: Any
) -> None:
    cirros, group = lab["vms"]["cirros-01"], lab["security_groups"]["demo:default"]
    page = browser.new_context(viewport={"width": 1700, "height": 1000}).new_page()
    login(page, served, "demo", lab_password(lab, "demo"))
    page.goto(f"{served}/map/#view=logical&src={OUTSIDE}&dst={cirros['floating_ip']}&probe=tcp:8080")
    wait_drawn(page)
    page.wait_for_function("window.neutronMap.path.result && window.neutronMap.path.result.verdict", timeout=30000)
    problem = page.locator("#path-result .path-problems li", has_text="sg_no_ingress").first
    link = problem.locator("a.fix")
    assert link.text_content() == "fix in Security groups"
    assert link.get_attribute("href") == f"/security-groups/?port={cirros['port_id']}"
    link.click()
    page.wait_for_selector(f'#secgroups section.secgroup.focused[data-id="{group}"]')
    assert page.locator("#secgroups section.secgroup.focused").count() == 1
    note = page.locator("#secgroups-focus").text_content() or ""
    assert note.startswith(f"The security groups of port {cirros['port_id']}: default")
    page.screenshot(path=str(SHOTS / "secgroups-from-path.png"), full_page=True)
