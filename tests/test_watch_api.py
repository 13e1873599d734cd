"""Watched paths' REST API (topology/watches/api.py), scoped, on the synthetic cloud stored and joined for real.

demo (project 0) and alt (project 1) both ways: a member watches its own VM's path and sees
only its own watches; it cannot create a watch on the other's endpoints (404, as the path
API answers) nor see, change or delete the other's (404, nothing of it in the answer). The
admin watches any path and sees every watch.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.browser import caller
from tests.history_inputs import Inputs, rebuild
from tests.map_fixtures import project_of
from tests.test_history import logged_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def loopback_allowed(settings: Any) -> None:
    """The webhooks here name 127.0.0.1, refused by default (tests/test_watch_webhook_policy.py): allowed."""
    settings.WATCH_WEBHOOK_ALLOW = ["127.0.0.1/32"]


URL = "/api/v1/watches/"
OUTSIDE = "192.168.1.1"


def vm_port(inputs: Inputs, project: str) -> dict[str, Any]:
    return next(p for p in inputs.cloud["ports"] if p["project_id"] == project and p["device_owner"] == "compute:nova")


def post(client: Client, body: dict[str, Any]) -> Any:
    return client.post(URL, body, content_type="application/json")


def test_each_tenant_watches_only_its_own_paths_and_sees_only_its_own_watches() -> None:
    inputs = Inputs(hosts=3, ports=12, projects=2)
    inputs.store_all()
    rebuild()
    demo, alt = project_of(0), project_of(1)
    clients = {p: logged_in(Client(), caller(f"member-{p[:4]}", p)) for p in (demo, alt)}
    made: dict[str, dict[str, Any]] = {}
    for project in (demo, alt):
        port = "port:" + vm_port(inputs, project)["id"]
        response = post(clients[project], {"src": port, "dst": OUTSIDE, "webhook_url": "http://127.0.0.1:9/hook"})
        assert response.status_code == 201, response.content
        made[project] = response.json()
        assert made[project]["last_verdict"] in ("ok", "broken", "unknown") and made[project]["project_id"] == project
        assert len(made[project]["secret"]) == 64
    for project, other in ((demo, alt), (alt, demo)):
        client, theirs = clients[project], made[other]
        listed = client.get(URL).json()["watches"]
        assert [w["id"] for w in listed] == [made[project]["id"]]
        for method in ("get", "patch", "delete"):
            response = getattr(client, method)(f"{URL}{theirs['id']}/", {}, content_type="application/json")
            assert response.status_code == 404, (method, response.content)
            text = response.content.decode()
            assert other not in text and theirs["src"] not in text and theirs["secret"] not in text
        # A watch on the other's VM: the path API's 404, nothing of it named.
        refused = post(client, {"src": theirs["src"], "dst": OUTSIDE})
        assert refused.status_code == 404
        assert g_key(theirs["src"]) not in refused.content.decode()
        # Nor by moving one's own watch onto it.
        moved = client.patch(f"{URL}{made[project]['id']}/", {"src": theirs["src"]}, content_type="application/json")
        assert moved.status_code == 404
        assert client.get(f"{URL}{made[project]['id']}/").json()["src"] == made[project]["src"]
    admin = logged_in(Client(), caller("admin", "admin-project", admin=True))
    assert {w["id"] for w in admin.get(URL).json()["watches"]} == {made[demo]["id"], made[alt]["id"]}
    assert post(admin, {"src": made[alt]["src"], "dst": made[demo]["src"]}).status_code == 201
    assert clients[demo].delete(f"{URL}{made[demo]['id']}/").status_code == 204
    assert clients[demo].get(URL).json()["watches"] == []
    assert clients[alt].get(URL).json()["watches"][0]["id"] == made[alt]["id"]


def test_a_watch_refuses_what_cannot_be_stored() -> None:
    inputs = Inputs(hosts=3, ports=12, projects=2)
    inputs.store_all()
    rebuild()
    demo = project_of(0)
    client = logged_in(Client(), caller("member-demo", demo))
    port = "port:" + vm_port(inputs, demo)["id"]
    assert post(client, {"src": port}).status_code == 400
    assert post(client, {"src": port, "dst": OUTSIDE, "webhook_url": "file:///etc/passwd"}).status_code == 400
    assert post(client, {"src": port, "dst": OUTSIDE, "probe": "tcp:70000"}).status_code == 400
    assert client.get(URL).json()["watches"] == []
    assert Client().get(URL).status_code in (401, 403)


def g_key(node_id: str) -> str:
    return node_id.split(":", 1)[1]


def test_the_webhook_secret_is_shown_once_to_its_owner_and_never_to_admins() -> None:
    inputs = Inputs(hosts=3, ports=12, projects=2)
    inputs.store_all()
    rebuild()
    demo = project_of(0)
    owner = logged_in(Client(), caller("member-demo", demo))
    made = post(
        owner, {"src": "port:" + vm_port(inputs, demo)["id"], "dst": OUTSIDE, "webhook_url": "http://127.0.0.1:9/h"}
    )
    assert made.status_code == 201, made.content
    secret = made.json()["secret"]
    assert len(secret) == 64 and all(c in "0123456789abcdef" for c in secret)
    detail = f"{URL}{made.json()['id']}/"
    admin = logged_in(Client(), caller("admin", "admin-project", admin=True))
    answers = {
        "owner's list": owner.get(URL),
        "owner's watch": owner.get(detail),
        "owner's change": owner.patch(detail, {"probe": "tcp/22"}, content_type="application/json"),
        "admin's list": admin.get(URL),
        "admin's watch": admin.get(detail),
    }
    for who, response in answers.items():
        assert response.status_code == 200, (who, response.content)
        assert secret not in response.content.decode(), who
        body = response.json()
        shown = body.get("watches", [body])
        assert [w["secret"] for w in shown if w["id"] == made.json()["id"]] == ["set"], (who, body)
    # The secret is still the one the webhook POSTs are signed with (only its display changed).
    from topology.watches.models import Watch

    assert Watch.objects.get(pk=made.json()["id"]).secret == secret
