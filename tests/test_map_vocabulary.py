"""The map page's config carries the explainer's vocabulary (issue 14 item 3): the map's script reads
scenario labels, symmetric walks and tunnel types from it instead of its own copies."""

from __future__ import annotations

import json
import re

import pytest
from django.conf import settings
from django.test import Client

from tests.browser import caller, session_for
from topology.vocabulary import map_vocabulary


@pytest.mark.django_db
def test_the_map_page_serves_the_vocabulary_in_map_config(client: Client) -> None:
    client.cookies[settings.SESSION_COOKIE_NAME] = session_for(caller("demo", "demo-project"))
    page = client.get("/map/").content.decode()
    found = re.search(r'<script id="map-config" type="application/json">(.*?)</script>', page, re.S)
    assert found, "no map-config on the map page"
    vocabulary = json.loads(found.group(1))["vocabulary"]
    assert vocabulary == map_vocabulary()
    scenarios = vocabulary["scenarios"]
    assert scenarios["east-west-dvr"] == {"label": "east-west (DVR, routed on each compute host)", "symmetric": False}
    assert scenarios["same-network"]["symmetric"] is True
    assert all(isinstance(s["label"], str) and s["label"] for s in scenarios.values())
    assert set(vocabulary["tunnel_types"]) >= {"vxlan", "gre", "geneve"}
