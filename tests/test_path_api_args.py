"""GET /api/v1/path/ refuses, with a clear 400 and before any walk, what is no question about a path:
a probe naming no TCP/UDP port, a special address at either end (issue 20 items 3 and 8). The same
400 for an admin and for a project member: the check needs nothing of the graph."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from tests.browser import caller, session_for

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["admin", "member"])
def logged_in(request: pytest.FixtureRequest) -> Client:
    client = Client()
    who = caller("ana", "project-a", admin=request.param == "admin")
    client.cookies[settings.SESSION_COOKIE_NAME] = session_for(who)
    return client


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ({"src": "10.0.0.5", "dst": "192.168.1.1", "probe": "tcp:99999"}, "TCP port 99999 does not exist"),
        ({"src": "10.0.0.5", "dst": "192.168.1.1", "probe": "tcp:0"}, "TCP port 0 does not exist"),
        ({"src": "10.0.0.5", "dst": "192.168.1.1", "probe": "udp:65536"}, "UDP port 65536 does not exist"),
        ({"src": "10.0.0.5", "dst": "127.0.0.1"}, "destination 127.0.0.1 is a loopback address"),
        ({"src": "10.0.0.5", "dst": "0.0.0.0"}, "destination 0.0.0.0 is the unspecified address"),
        ({"src": "10.0.0.5", "dst": "255.255.255.255"}, "destination 255.255.255.255 is the limited broadcast"),
        ({"src": "10.0.0.5", "dst": "224.0.0.1"}, "destination 224.0.0.1 is a multicast address"),
        ({"src": "169.254.7.7", "dst": "10.0.0.5"}, "source 169.254.7.7 is a link-local address"),
    ],
)
def test_what_is_no_path_question_is_a_400(logged_in: Client, query: dict[str, str], said: str) -> None:
    response = logged_in.get("/api/v1/path/", query)
    assert response.status_code == 400, response.content
    assert said in response.json()["detail"]


def test_a_valid_probe_gets_past_the_check(logged_in: Client) -> None:
    """The check refuses only what it should: tcp:65535 to an ordinary address reaches the walk (no graph
    here, so the walk finds neither end: not the probe's 400)."""
    response = logged_in.get("/api/v1/path/", {"src": "10.0.0.5", "dst": "192.168.1.1", "probe": "tcp:65535"})
    assert response.status_code in (400, 404)
    assert "does not exist" not in response.json()["detail"] and "port" in response.json()["detail"]
