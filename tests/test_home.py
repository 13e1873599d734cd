"""The home page lists the lab cloud's networks and routers from openstacksdk."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, override_settings


@pytest.mark.lab
def test_it_lists_the_lab_networks_and_routers(lab: dict[str, Any], client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    for name in ("router1", "public", "private"):
        assert f'<td class="name">{name}</td>' in page
    assert lab["router1"]["id"] in page


def test_it_says_what_to_do_when_no_cloud_is_configured(client: Client, tmp_path: Any) -> None:
    missing = tmp_path / "clouds.yaml"
    with override_settings(DASHBOARD_CLOUDS_YAML=str(missing)):
        response = client.get("/")
    assert response.status_code == 503
    assert "lab up" in response.content.decode()
    assert str(missing) in response.content.decode()
