"""Login with the lab's Keystone, and the home page listing what Neutron shows that user."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.conftest import lab_password

pytestmark = [pytest.mark.lab, pytest.mark.django_db]


def login(client: Client, lab: dict[str, Any], user: str) -> Any:
    return client.post("/login/", {"username": user, "password": lab_password(lab, user), "domain": "Default"})


def test_it_sends_anonymous_visitors_to_the_login_page(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_demo_logs_in_and_sees_router1_public_and_private(lab: dict[str, Any], client: Client) -> None:
    response = login(client, lab, "demo")
    assert response.status_code == 302, response.content
    page = client.get("/").content.decode()
    for name in ("router1", "public", "private"):
        assert f'<td class="name">{name}</td>' in page
    assert lab["routers"]["router1"]["id"] in page
    assert "project <strong>demo</strong>" in page


def test_alt_sees_public_but_nothing_of_demo(lab: dict[str, Any], client: Client) -> None:
    assert login(client, lab, "alt").status_code == 302
    page = client.get("/").content.decode()
    assert '<td class="name">public</td>' in page
    assert "router1" not in page and '<td class="name">private</td>' not in page


def test_a_wrong_password_is_refused_with_a_reason(lab: dict[str, Any], client: Client) -> None:
    response = client.post("/login/", {"username": "demo", "password": "nope", "domain": "Default"})
    assert response.status_code == 401
    assert "user name or password is wrong" in response.content.decode()
    assert client.get("/").status_code == 302


def test_admin_sees_every_project_and_logs_out(lab: dict[str, Any], client: Client) -> None:
    assert login(client, lab, "admin").status_code == 302
    page = client.get("/").content.decode()
    assert "(admin: every project)" in page
    response = client.post("/logout/")
    assert response.status_code == 302
    assert client.get("/").status_code == 302
