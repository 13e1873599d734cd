"""``GET /api/v1/path/?...&verify=1`` on the real ha lab (issue 16): an HA router's walks against the tracers.

router1 runs on both hosts' legacy L3 agents, keepalived making one instance active. The node agents of
both hosts run for real and keep their channels to a real daphne (as tests/test_path_verify_vlan_lab.py).
Every walk (FIP out, SNAT out, FIP in) goes through the instance holding the VIPs, and there every hop
agrees with its host's tracer: each OVS bridge's output is ofproto/trace's for the same packet, the
active qrouter's device is ``ip route get``'s. After a failover made for real (keepalived stopped on the
active host), the walks go through the other host and agree there too. Grouped with the other ha tests
(ha_lab).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from lab import api as lab_api
from tests.agent_feed import fed_lab
from tests.conftest import ARTIFACTS
from tests.test_actions_lab import login
from tests.test_actions_lab import shared_broker_restored as shared_broker_restored  # autouse there, so here too
from tests.test_path_ha_lab import failed_over, questions, restored, roles, router_of, sender_host, through
from tests.test_path_verify_dvr_lab import agreed_hops, answered
from tests.test_topology_dvr import joined

pytestmark = [pytest.mark.lab, pytest.mark.ha_lab, pytest.mark.django_db(transaction=True)]
LOGS = ARTIFACTS / "probes-ha"
JsonDict = dict[str, Any]
__all__ = ["restored"]  # a fixture of test_path_ha_lab, used by name here


@pytest.fixture
def feed(ha_lab: JsonDict) -> Iterator[None]:
    warm = [(who, dst) for who, _, dst, _ in questions(ha_lab)]
    with fed_lab(ha_lab, LOGS, warm, router_of(ha_lab)["hosts"]):
        yield


def active_hop_agrees(state: JsonDict, body: JsonDict, active: str) -> None:
    """The active instance's qrouter hop was asked of its own host's tracer, and agreed."""
    node = f"netns:{active}:{router_of(state)['namespace']}"
    (hop,) = [h for h in body["hops"] if h["node"] == node]
    check = hop["verify"]
    assert (check["state"], check["host"]) == ("agree", active), json.dumps(hop)


def all_agree(admin: Client, state: JsonDict, active: str, standby: str, label: str) -> dict[str, str]:
    """Every question's walk: ok, through ``active``, no hop disagreeing; the failures by question."""
    failures = {}
    for who, src, dst, scenario in questions(state):
        name = f"{label} {who} to {dst}"
        try:  # every walk checked, each one's failure kept: one lab run says all that is wrong
            # real traffic first: after a failover the new active instance has not resolved the outside's MAC
            assert lab_api.ping(who, dst, timeout=30), (who, dst)
            body = answered(admin, src, dst, LOGS, name)
            assert (body["scenario"], body["verdict"]) == (scenario, "ok"), body["problems"]
            assert body["verify"]["disagree"] == 0, json.dumps([body["verify"], body["problems"]])
            assert set(body["verify"]["hosts"].values()) == {"connected"}, body["verify"]
            through(state, body, active, standby, sender_host(state, who))
            assert agreed_hops(name, body["hops"]) >= 2
            active_hop_agrees(state, body, active)
        except AssertionError as exc:
            failures[name] = str(exc)[:4000]
    return failures


def test_every_ha_walk_goes_through_the_active_instance_and_agrees_with_its_hosts_tracers(
    ha_lab: JsonDict, feed: None
) -> None:
    active, standby = roles(ha_lab)
    failures = all_agree(login(ha_lab, "admin"), ha_lab, active, standby, "before")
    assert not failures, json.dumps(failures, indent=1)


def test_after_a_failover_the_walks_agree_with_the_other_hosts_tracers(restored: JsonDict, feed: None) -> None:
    active, standby, _ = failed_over(restored)
    assert roles(restored) == (active, standby)
    joined(restored)  # both hosts' state as it is now: the VIPs moved
    failures = all_agree(login(restored, "admin"), restored, active, standby, "after failover")
    assert not failures, json.dumps(failures, indent=1)
