"""The vocabulary the map is served (scenarios, tunnel types): one source, server-side, complete."""

from __future__ import annotations

import json
import re

import pytest
from django.conf import settings
from django.test import Client

from tests.browser import caller, session_for
from topology.kinds import TUNNEL_TYPES
from topology.path import Scenario
from topology.views import map_config
from topology.vocabulary import map_vocabulary


def scenario_names() -> set[str]:
    """Every scenario constant of the class (not only those given a text: a new one without fails)."""
    return {value for name, value in vars(Scenario).items() if name.isupper() and isinstance(value, str)}


def test_it_has_every_scenario_with_a_label_and_a_symmetric_flag() -> None:
    scenarios = map_vocabulary()["scenarios"]
    assert isinstance(scenarios, dict)
    assert set(scenarios) == scenario_names()
    assert len(scenario_names()) >= 9
    for name, about in scenarios.items():
        assert set(about) == {"label", "symmetric"}, name
        assert isinstance(about["label"], str) and about["label"], name
        assert isinstance(about["symmetric"], bool), name


def test_it_says_which_walks_are_walked_back() -> None:
    # The DVR walks route on each host: their reply does not retrace them (the API walks east-west-dvr and
    # DVR's IPv6 walks back: out by the fip namespace, in by the snat one).
    scenarios = map_vocabulary()["scenarios"]
    assert isinstance(scenarios, dict)
    asymmetric = {name for name, about in scenarios.items() if not about["symmetric"]}
    assert asymmetric == {
        Scenario.EAST_WEST_DVR,
        Scenario.NORTH_SOUTH_SNAT_DVR,
        Scenario.NORTH_SOUTH_ROUTED_DVR,
        Scenario.INBOUND_ROUTED_DVR,
    }


def test_its_tunnel_types_are_the_kinds_list_sorted() -> None:
    assert map_vocabulary()["tunnel_types"] == sorted(TUNNEL_TYPES)
    assert {"vxlan", "gre", "geneve"} <= TUNNEL_TYPES


def test_it_is_exactly_scenarios_and_tunnel_types() -> None:
    assert set(map_vocabulary()) == {"scenarios", "tunnel_types"}


def test_it_is_in_the_map_config() -> None:
    assert map_config(caller("demo", "demo-project"))["vocabulary"] == map_vocabulary()


@pytest.mark.django_db
def test_it_reaches_the_map_page_as_json(client: Client) -> None:
    client.cookies[settings.SESSION_COOKIE_NAME] = session_for(caller("demo", "demo-project"))
    response = client.get("/map/")
    assert response.status_code == 200
    found = re.search(
        r'<script id="map-config" type="application/json">(.*?)</script>', response.content.decode(), re.S
    )
    assert found is not None
    assert json.loads(found.group(1))["vocabulary"] == json.loads(json.dumps(map_vocabulary()))
