"""The dashboard behind TLS (issue 21 item 6): nginx with a test CA's certificate in front of the units.

nginx (the Debian package, bin/setup) runs unprivileged from the test with deploy/nginx/neutron-map.conf
rendered for 127.0.0.1 and high ports, in front of the four units of deploy/dashboard/ (their
ExecStart lines, tests/deploy_stack.py) on the test database and a Redis of the test's own, the
lab (allinone) as the cloud. In Chromium, through https only: admin and demo log in with Keystone, the map
opens its websocket over wss:// and a delta arrives on it (the node agent's report, posted through
the same proxy with CA verification on, joined by the graph writer), a floating IP allocate job
shows its progress to ``succeeded``. Plain http is redirected to https; nginx listens on 127.0.0.1
only.

Chromium trusts the test certificate by its public key (--ignore-certificate-errors-spki-list), not
by ignoring certificate errors; the agent verifies it with the test CA bundle, and without it fails.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openstack.connection
import pytest

from lab import paths
from tasks.models import Job, JobKind
from tests.browser import CHROMIUM, CHROMIUM_ARGS, csp_safe_waits, login, wait_drawn
from tests.conftest import ARTIFACTS, lab_password
from tests.deploy_stack import (
    REPO,
    Certificates,
    Proxy,
    Stack,
    dashboard_units,
    free_port,
    listening_addresses,
    make_certificates,
    nginx,
    production_env,
)
from tests.redis_server import own_redis
from tests.test_topology_lab import refresh_all

pytestmark = [pytest.mark.lab, pytest.mark.browser, pytest.mark.django_db(transaction=True)]
LOGS = ARTIFACTS / "deploy-tls"
AGENT_HOST = "controller"


def spki_hash(cert: Path) -> str:
    """base64(sha256(SubjectPublicKeyInfo)): what Chromium's --ignore-certificate-errors-spki-list takes."""
    der = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-pubkey", "-noout"], capture_output=True, check=True, timeout=30
    ).stdout
    spki = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "der"], input=der, capture_output=True, check=True, timeout=30
    ).stdout
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


@pytest.fixture
def behind_tls(
    lab: dict[str, Any], transactional_db: None, tmp_path: Path
) -> Iterator[tuple[Stack, Proxy, Certificates]]:
    from django.conf import settings

    certs = make_certificates(tmp_path / "tls")
    proxy = Proxy(free_port(), free_port(), tmp_path / "nginx")
    with own_redis(tmp_path / "redis") as redis:
        # The map starts from the cloud as it is (what beat's refresh does in a running dashboard).
        refresh_all(lab["host"])
        env = production_env(
            tmp_path / "var",
            free_port(),
            redis.url,
            DATABASE_URL=f"sqlite:///{settings.DATABASES['default']['NAME']}",
            DJANGO_CSRF_TRUSTED_ORIGINS=proxy.url,
            DASHBOARD_STATIC_MANIFEST="0",  # no collectstatic here: tests/test_deploy_services.py covers it
            # The lab as the cloud: its clouds.yaml, wherever the lab runs (LAB_DIR set or not; the units'
            # state directory is this test's, so the default under it would name none).
            OS_CLIENT_CONFIG_FILE=str(paths.CLOUDS_YAML),
        )
        with (
            dashboard_units(env, LOGS / "units") as stack,
            nginx(proxy.prefix, certs, int(env["DASHBOARD_PORT"]), proxy) as running,
        ):
            yield stack, running, certs


def run_agent(proxy: Proxy, token: str, *tls: str) -> subprocess.CompletedProcess[str]:
    """``python -m topology.agent --once`` posting this host's report to the dashboard through nginx."""
    return subprocess.run(
        [
            str(REPO / ".venv" / "bin" / "python"),
            "-m",
            "topology.agent",
            "--once",
            "--host",
            AGENT_HOST,
            f"--token={token}",
            "--no-channel",
            "--url",
            f"{proxy.url}/api/v1/agents/report/",
            *tls,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_plain_http_is_redirected_and_nginx_listens_on_loopback_only(
    behind_tls: tuple[Stack, Proxy, Certificates],
) -> None:
    _, proxy, _ = behind_tls
    conn = http.client.HTTPConnection("127.0.0.1", proxy.http_port, timeout=30)
    conn.request("GET", "/map/?x=1")
    response = conn.getresponse()
    assert response.status == 301
    assert response.getheader("Location") == f"https://127.0.0.1:{proxy.https_port}/map/?x=1"
    conn.close()
    listening = listening_addresses(proxy.pid)
    assert listening == {f"127.0.0.1:{proxy.https_port}", f"127.0.0.1:{proxy.http_port}"}, listening


def test_login_map_over_wss_a_delta_from_the_agent_and_a_job_through_https(
    lab: dict[str, Any],
    behind_tls: tuple[Stack, Proxy, Certificates],
    demo_cloud: openstack.connection.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from playwright.sync_api import sync_playwright

    from topology.models import HostReport
    from topology.services import issue_agent_token

    stack, proxy, certs = behind_tls
    # Playwright's sync API runs an event loop in this thread; the ORM reads here stay synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    token = issue_agent_token(AGENT_HOST)
    fip_id = ""
    args = [*CHROMIUM_ARGS, f"--ignore-certificate-errors-spki-list={spki_hash(certs.cert)}"]
    try:
        with sync_playwright() as pw, csp_safe_waits():
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
            try:
                # admin's map (the whole graph: the agent's report shows there); demo's job.
                page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
                sockets: list[Any] = []
                frames: list[str] = []

                def watch(ws: Any) -> None:
                    sockets.append(ws.url)
                    ws.on("framereceived", lambda payload: frames.append(str(payload)))

                page.on("websocket", watch)
                login(page, proxy.url, "admin", lab_password(lab, "admin"))
                assert page.url.startswith(proxy.url + "/map/")
                wait_drawn(page)
                assert any(url == f"wss://127.0.0.1:{proxy.https_port}/ws/topology/" for url in sockets), sockets
                before = int(page.evaluate("window.neutronMap.stats.drawnRevision"))

                # The agent through the same proxy: the system CAs refuse the test certificate...
                stored = list(HostReport.objects.filter(host=AGENT_HOST).values_list("received_at", flat=True))
                refused = run_agent(proxy, token)
                assert refused.returncode == 3 and "CERTIFICATE_VERIFY_FAILED" in refused.stderr, refused.stderr
                # (nothing reached the dashboard: no report POST in nginx's log; "202" alone would match the year)
                assert "POST /api/v1/agents/report/" not in (proxy.prefix / "access.log").read_text()
                # ... the test CA's bundle verifies it: 202, and the graph writer's delta reaches the page.
                sent = run_agent(proxy, token, "--ca-file", str(certs.ca))
                assert sent.returncode == 0, sent.stdout + sent.stderr
                assert "report sent (once)" in sent.stderr, sent.stderr
                assert '"POST /api/v1/agents/report/ HTTP/1.1" 202' in (proxy.prefix / "access.log").read_text()
                assert [HostReport.objects.get(host=AGENT_HOST).received_at] != stored  # this report stored
                wait_drawn(page, before + 1, timeout=120000)
                assert any("topology.delta" in frame for frame in frames), frames[-3:]
                page.screenshot(path=str(LOGS / "map-over-wss.png"))

                page = browser.new_context().new_page()
                page.on("websocket", watch)
                login(page, proxy.url, "demo", lab_password(lab, "demo"), next_url="/floating-ips/")
                page.wait_for_selector("#allocate-network option", state="attached")
                page.click("#allocate-form button[type=submit]")
                page.wait_for_selector("#job-feed li.state-succeeded", timeout=120000)
                job = Job.objects.get(kind=JobKind.FIP_ALLOCATE)
                assert job.result is not None
                fip_id = job.result["floating_ip_id"]
                assert any(url == f"wss://127.0.0.1:{proxy.https_port}/ws/jobs/" for url in sockets), sockets
                page.screenshot(path=str(LOGS / "job-over-wss.png"))
            finally:
                browser.close()
        assert re.search(r"Task tasks\.\S+\[[^\]]+\] succeeded", stack.log("neutron-map-jobs")), stack.log(
            "neutron-map-jobs"
        )
    finally:
        if fip_id:
            demo_cloud.network.delete_ip(fip_id, ignore_missing=True)
