"""Sessions, tokens and login against the real lab Keystone (issue 12, items 6, 8, 9).

The session row keeps no Keystone token in clear; logout has Keystone revoke them; wrong
passwords lock a user name from one address (not from others, not other names); Keystone's
own error text and a Keystone outage reach nobody as raw text or as a 500.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import openstack.connection
import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.test import Client, override_settings

from dashboard import sessiontokens
from dashboard.keystone import KEYSTONE_DOWN, KEYSTONE_REFUSED, WRONG_CREDENTIALS
from dashboard.sessiontokens import KeystoneSecrets
from tests.conftest import free_port, lab_password

pytestmark = [pytest.mark.lab, pytest.mark.django_db]


def login(lab: dict[str, Any], user: str, password: str | None = None, address: str = "127.0.0.1") -> Any:
    client = Client(REMOTE_ADDR=address)
    response = client.post(
        "/login/",
        {
            "username": user,
            "password": lab_password(lab, user) if password is None else password,
            "domain": "Default",
            "next": "/",
        },
    )
    response.client = client
    return response


def logged_in(lab: dict[str, Any], user: str) -> Client:
    response = login(lab, user)
    assert response.status_code == 302, response.content[:500]
    return response.client


def keystone_status(admin_cloud: openstack.connection.Connection, token: str) -> int:
    """What Keystone answers when asked to validate ``token``."""
    return int(
        admin_cloud.identity.get("/auth/tokens", headers={"X-Subject-Token": token}, raise_exc=False).status_code
    )


def session_secrets(client: Client) -> tuple[str, KeystoneSecrets]:
    """The raw session_data of the client's row in the database, and the secrets the dashboard unseals."""
    key = client.cookies["sessionid"].value
    raw = Session.objects.get(session_key=key).session_data
    secrets = sessiontokens.kept(SessionStore(key))
    assert secrets is not None
    return raw, secrets


def test_the_session_row_holds_no_keystone_token_in_clear(
    lab: dict[str, Any], admin_cloud: openstack.connection.Connection
) -> None:
    demo = logged_in(lab, "demo")
    raw, secrets = session_secrets(demo)
    # The tokens are real, and good: the session acts with them.
    assert keystone_status(admin_cloud, secrets.token) == 200
    assert keystone_status(admin_cloud, secrets.unscoped) == 200
    assert demo.get("/").status_code == 200
    assert demo.get("/api/v1/topology/").status_code == 200
    decoded = json.dumps(SessionStore().decode(raw))
    for token in (secrets.token, secrets.unscoped):
        assert token not in raw
        assert token not in decoded
    # What stays in clear is who the caller is (the map's websocket reads it), without a token.
    clear = SessionStore().decode(raw)
    assert clear["keystone"]["user_name"] == "demo" and clear["keystone"]["token"] == ""
    assert "keystone_unscoped" not in clear and "keystone_body" not in clear


def test_a_project_switch_rescopes_from_the_sealed_unscoped_token(
    lab: dict[str, Any], admin_cloud: openstack.connection.Connection
) -> None:
    demo = logged_in(lab, "demo")
    _, before = session_secrets(demo)
    # demo has one project: switching to it still rescopes, with the unscoped token from the seal.
    project = demo.session["keystone"]["project_id"]
    assert demo.post("/project/", {"project_id": project}).status_code == 302
    raw, after = session_secrets(demo)
    assert after.token != before.token and after.unscoped == before.unscoped
    assert keystone_status(admin_cloud, after.token) == 200
    assert after.token not in raw and after.unscoped not in raw
    assert demo.session["keystone"]["project_id"] == project
    assert demo.get("/").status_code == 200


def test_logout_has_keystone_revoke_the_sessions_tokens(
    lab: dict[str, Any], admin_cloud: openstack.connection.Connection
) -> None:
    demo = logged_in(lab, "demo")
    _, secrets = session_secrets(demo)
    # The scoped token also works as an API client's X-Auth-Token (and is cached as valid) ...
    api = Client()
    assert api.get("/api/v1/topology/", HTTP_X_AUTH_TOKEN=secrets.token).status_code == 200
    assert demo.post("/logout/").status_code == 302
    # ... and not any more: Keystone refuses both tokens, and so does the dashboard (cache dropped).
    assert keystone_status(admin_cloud, secrets.token) == 404
    assert keystone_status(admin_cloud, secrets.unscoped) == 404
    assert api.get("/api/v1/topology/", HTTP_X_AUTH_TOKEN=secrets.token).status_code == 401
    assert demo.get("/").status_code == 302


@override_settings(AXES_FAILURE_LIMIT=3, AXES_COOLOFF_TIME=timedelta(seconds=4))
def test_wrong_passwords_lock_that_user_from_that_address_only(lab: dict[str, Any]) -> None:
    attacker = "10.91.0.1"
    for _ in range(2):
        response = login(lab, "demo", "wrong", attacker)
        assert response.status_code == 401
        assert WRONG_CREDENTIALS in response.content.decode()
    locked = login(lab, "demo", "wrong", attacker)
    assert locked.status_code == 429
    assert "try again in 4 seconds" in locked.content.decode()
    # During the lock even the right password is refused, with when to retry.
    right = login(lab, "demo", address=attacker)
    assert right.status_code == 429
    assert "Too many failed logins for this user from your address: try again in" in right.content.decode()
    assert 1 <= int(right["Retry-After"]) <= 4
    assert "sessionid" not in right.client.cookies or not right.client.session.get("keystone")
    # Neither another user from that address, nor the same user from another address, is locked.
    assert login(lab, "alt", address=attacker).status_code == 302
    assert login(lab, "demo", address="10.91.0.2").status_code == 302
    # Nor a case variant of the name counted apart: "DEMO" is locked with "demo".
    assert login(lab, "DEMO", "wrong", attacker).status_code == 429
    time.sleep(4.5)
    assert login(lab, "demo", address=attacker).status_code == 302


def test_keystones_own_error_text_goes_to_the_log_not_to_the_page(
    lab: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    # Keystone refuses an empty user name with a 400 in its schema's words (a long one gets a plain 401).
    response = login(lab, "", "whatever", "10.91.0.3")
    page = response.content.decode()
    assert response.status_code == 401
    assert KEYSTONE_REFUSED in page
    assert "BadRequest('Invalid input for field identity/password/user" in caplog.text
    for raw in ("Invalid input", "must be present", "Request-ID", "HTTP 400", "Traceback", "http://"):
        assert raw not in page


def test_the_login_page_says_keystone_is_down_without_its_error_text(
    lab: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()  # nothing listens there: connections are refused, as to a Keystone that is down
    with override_settings(KEYSTONE_URL=f"http://127.0.0.1:{port}/v3", AXES_FAILURE_LIMIT=2):
        for _ in range(3):
            response = login(lab, "demo", address="10.91.0.4")
            page = response.content.decode()
            assert response.status_code == 503
            assert KEYSTONE_DOWN in page
            assert str(port) not in page and "Traceback" not in page and "Unable to establish" not in page
    assert "ConnectFailure" in caplog.text
    # Keystone being down was nobody's failed attempt: no lock once it is back.
    assert login(lab, "demo", address="10.91.0.4").status_code == 302


def test_an_api_call_answers_503_with_retry_after_while_keystone_is_down(
    lab: dict[str, Any], demo_cloud: openstack.connection.Connection
) -> None:
    from dashboard.auth import forget_token

    token = str(demo_cloud.auth_token)
    forget_token(token)  # validated afresh, not from an earlier test's cache
    port = free_port()
    with override_settings(KEYSTONE_URL=f"http://127.0.0.1:{port}/v3"):
        response = Client().get("/api/v1/topology/", HTTP_X_AUTH_TOKEN=token)
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "Keystone cannot be reached" in response.json()["detail"]
    assert str(port) not in response.content.decode()
    # The same token, Keystone back: accepted.
    assert Client().get("/api/v1/topology/", HTTP_X_AUTH_TOKEN=token).status_code == 200


def test_a_cached_token_still_gets_503_not_500_when_acting_needs_keystone(
    lab: dict[str, Any], demo_cloud: openstack.connection.Connection
) -> None:
    """Listing floating IPs as an API client asks Keystone for the token's catalog, after validation
    (which the cache may answer while Keystone is down)."""
    token = str(demo_cloud.auth_token)
    api = Client()
    assert api.get("/api/v1/floating-ips/", HTTP_X_AUTH_TOKEN=token).status_code == 200  # validated, cached
    port = free_port()
    with override_settings(KEYSTONE_URL=f"http://127.0.0.1:{port}/v3"):
        response = api.get("/api/v1/floating-ips/", HTTP_X_AUTH_TOKEN=token)
    assert response.status_code == 503, response.content[:300]
    assert response["Retry-After"] == "30"
    assert "Keystone cannot be reached" in response.json()["detail"]
