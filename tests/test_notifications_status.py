"""The status API's notifications line: off (with the last refresh's age), listening (the last event),
the listener's own state as it writes it into Redis (topology/notifications/status.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client, override_settings

from tests.browser import caller, session_for
from topology import services
from topology.notifications import status
from topology.notifications.listener import NotificationListener

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def client() -> Client:
    client = Client()
    client.cookies["sessionid"] = session_for(caller("demo", "demo-p"))
    return client


@pytest.fixture
def no_listener_state() -> Iterator[None]:
    from topology import ingest_queue

    ingest_queue.client().delete(status.KEY)
    yield
    ingest_queue.client().delete(status.KEY)


def notifications(client: Client) -> dict[str, Any]:
    response = client.get("/api/v1/status/")
    assert response.status_code == 200, response.content[:300]
    body: dict[str, Any] = response.json()["notifications"]
    return body


@override_settings(DASHBOARD_NOTIFICATIONS="")
def test_without_notifications_it_says_so_and_how_old_the_refresh_is(client: Client, no_listener_state: None) -> None:
    services.store_snapshot({"networks": []}, "lab-admin")
    body = notifications(client)
    assert body["enabled"] is False and body["listener"] is None
    assert body["message"].startswith("notifications are off: logical changes wait for the periodic refresh")
    assert 0 <= body["last_refresh_age_seconds"] < 3600


@override_settings(DASHBOARD_NOTIFICATIONS="rabbit://u:p@127.0.0.1:1/")
def test_configured_without_a_listener_it_says_the_listener_is_not_listening(
    client: Client, no_listener_state: None
) -> None:
    body = notifications(client)
    assert body["enabled"] is True and body["listener"] is None
    assert "not listening" in body["message"] and body["last_refresh_age_seconds"] is None  # no snapshot yet


@override_settings(DASHBOARD_NOTIFICATIONS="rabbit://u:p@127.0.0.1:1/")
def test_with_a_listener_it_shows_the_last_event(client: Client, no_listener_state: None) -> None:
    listener = NotificationListener("memory://status", lambda plan: None)
    listener.state.update(
        state="listening", last_event_at="2026-12-03T01:00:00+00:00", last_event_type="port.create.end"
    )
    listener.write_state()
    body = notifications(client)
    assert body["listener"] == "listening" and body["last_event_type"] == "port.create.end"
    assert "last event 2026-12-03T01:00:00+00:00" in body["message"]
    assert "last_refresh_age_seconds" not in body
    listener.set_state("reconnecting", error="connection lost: gone")
    body = notifications(client)
    assert body["listener"] == "reconnecting" and body["error"] == "connection lost: gone"
    assert "not listening" in body["message"]


def test_the_lab_default_is_the_labs_url() -> None:
    from django.conf import settings

    from lab import rabbitmq

    assert settings.LAB_NOTIFICATIONS_URL == rabbitmq.NOTIFICATIONS_URL
