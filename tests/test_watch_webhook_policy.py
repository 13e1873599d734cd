"""Watches' webhook URLs restricted (topology/watches/webhook.py): the dashboard's own networks refused.

By default a URL whose host is or resolves to a loopback, link-local, private (RFC 1918/4193),
multicast or unspecified address is refused when the watch is created or changed (a 400 naming
the address and why); the operator's allow-list (WATCH_WEBHOOK_ALLOW, CIDRs and host names) lets
chosen ones through. At send time the URL is checked again: a watch stored while its address was
allowed and no longer is gets no POST (a real receiver on 127.0.0.1 counts what reaches it) and
its event is shown failed with the reason. "localhost" is resolved for real by the resolver.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.browser import caller
from tests.history_inputs import Inputs, rebuild
from tests.map_fixtures import project_of
from tests.test_history import logged_in
from tests.test_watch_fires import eager as eager  # the fixture this module uses
from tests.test_watch_fires import port_status, routed_cloud, vms_of
from tests.webhook_receiver import Receiver
from tests.webhook_receiver import receiver as receiver  # the fixture this module uses
from topology.watches.check import check_revision
from topology.watches.webhook import ForbiddenWebhook, post, refusal

pytestmark = pytest.mark.django_db
URL = "/api/v1/watches/"
OUTSIDE = "192.168.1.1"
REFUSED = [
    ("http://127.0.0.1:9/hook", "loopback"),
    ("http://localhost/hook", "loopback"),
    ("http://[::1]/hook", "loopback"),
    ("http://[::ffff:127.0.0.1]/hook", "loopback"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[fe80::1]/hook", "link-local"),
    ("http://10.1.2.3/hook", "private"),
    ("https://172.16.0.1/hook", "private"),
    ("http://192.168.1.1:8080/hook", "private"),
    ("http://[fd00::1]/hook", "private"),
    ("http://224.0.0.1/hook", "multicast"),
    ("http://0.0.0.0/hook", "unspecified"),
]


@pytest.mark.parametrize(("url", "kind"), REFUSED)
def test_the_dashboards_own_networks_are_refused_by_default(settings: Any, url: str, kind: str) -> None:
    settings.WATCH_WEBHOOK_ALLOW = []
    reason = refusal(url)
    assert reason is not None and f"a {kind} address" in reason and "DASHBOARD_WATCH_WEBHOOK_ALLOW" in reason
    with pytest.raises(ForbiddenWebhook):
        post(url, "secret", {"verdict": "ok"})  # refused before any connection


def test_a_global_address_is_accepted_and_the_allow_list_lets_chosen_ones_through(settings: Any) -> None:
    settings.WATCH_WEBHOOK_ALLOW = []
    assert refusal("https://8.8.8.8/hook") is None
    assert refusal("http://[2001:4860:4860::8888]/hook") is None
    settings.WATCH_WEBHOOK_ALLOW = ["10.0.0.0/8", "127.0.0.1/32", "localhost"]
    assert refusal("http://10.1.2.3/hook") is None
    assert refusal("http://127.0.0.1:9/hook") is None
    assert refusal("http://localhost/hook") is None  # by name, whatever it resolves to
    assert "private" in (refusal("http://192.168.1.1/hook") or "")  # not in the list: still refused
    assert "link-local" in (refusal("http://169.254.169.254/") or "")
    assert "cannot be resolved" in (refusal("http://no-such-host.invalid/hook") or "")


def test_creation_and_change_answer_400_naming_the_reason(settings: Any) -> None:
    settings.WATCH_WEBHOOK_ALLOW = []
    inputs = Inputs(hosts=3, ports=12, projects=2)
    inputs.store_all()
    rebuild()
    demo = project_of(0)
    client = logged_in(Client(), caller("member-demo", demo))
    port = "port:" + vms_of(inputs, demo)[0]["id"]
    body = {"src": port, "dst": OUTSIDE, "webhook_url": "http://169.254.169.254/latest/"}
    refused = client.post(URL, body, content_type="application/json")
    assert refused.status_code == 400
    assert "169.254.169.254, a link-local address" in refused.json()["detail"]
    assert client.get(URL).json()["watches"] == []
    made = client.post(URL, {"src": port, "dst": OUTSIDE}, content_type="application/json")
    assert made.status_code == 201, made.content
    moved = client.patch(
        f"{URL}{made.json()['id']}/", {"webhook_url": "http://10.0.0.1/hook"}, content_type="application/json"
    )
    assert moved.status_code == 400 and "10.0.0.1, a private address" in moved.json()["detail"]
    assert client.get(f"{URL}{made.json()['id']}/").json()["webhook_url"] == ""
    settings.WATCH_WEBHOOK_ALLOW = ["10.0.0.0/8"]
    allowed = client.patch(
        f"{URL}{made.json()['id']}/", {"webhook_url": "http://10.0.0.1/hook"}, content_type="application/json"
    )
    assert allowed.status_code == 200 and allowed.json()["webhook_url"] == "http://10.0.0.1/hook"


@pytest.mark.usefixtures("eager")
def test_no_post_to_an_address_forbidden_at_send_time(settings: Any, receiver: str) -> None:
    inputs, demo = routed_cloud()
    port, other = vms_of(inputs, demo)[:2]
    client = logged_in(Client(), caller("member-demo", demo))
    made = client.post(
        URL, {"src": "port:" + port["id"], "dst": "port:" + other["id"], "webhook_url": receiver}, "application/json"
    )
    assert made.status_code == 201, made.content  # eager allows 127.0.0.1/32
    (sent,) = check_revision(port_status(inputs, port["id"], "DOWN"))
    sent.refresh_from_db()
    assert sent.webhook_state == "sent" and len(Receiver.got) == 1  # the receiver is reachable
    settings.WATCH_WEBHOOK_ALLOW = []  # the operator took it out of the list (or the name resolves elsewhere now)
    (event,) = check_revision(port_status(inputs, port["id"], "ACTIVE"))
    event.refresh_from_db()
    assert event.webhook_state == "failed" and event.webhook_attempts == 1, event.__dict__
    assert "127.0.0.1, a loopback address" in event.webhook_error
    assert len(Receiver.got) == 1  # nothing more reached it
