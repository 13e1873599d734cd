"""An HA failover in the dashboard's history, on the real ha lab (issue 15: "the history of the change is
visible on the next revision").

Both hosts' node agents report for real to a real daphne (tests/test_path_verify_ha_lab.py's ``feed``);
keepalived is stopped for real on the active host. Read through the public history API as an admin: the
revisions after it mark the other qrouter- instance active (the VIPs' holder, as the agents saw it), a
compare with the revision before the failover lists both instances changed, a host's report is the cause,
and the revision before still shows the roles as they were.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.broken_states import wait_until
from tests.test_actions_lab import login
from tests.test_actions_lab import shared_broker_restored as shared_broker_restored  # autouse there, so here too
from tests.test_history_past import body
from tests.test_path_ha_lab import failed_over, restored, roles, router_of
from tests.test_path_verify_ha_lab import feed

pytestmark = [pytest.mark.lab, pytest.mark.ha_lab, pytest.mark.django_db(transaction=True)]
JsonDict = dict[str, Any]
__all__ = ["feed", "restored"]  # fixtures, used by name here
HISTORY = "/api/v1/topology/history/"


def newest(admin: Client) -> int:
    (row,) = body(admin, f"{HISTORY}?limit=1")["revisions"]
    return int(row["revision"])


def roles_at(admin: Client, revision: int, instances: dict[str, str]) -> dict[str, str | None]:
    """Each host's qrouter- instance's ha_role in the map as it was at ``revision``."""
    nodes = {n["id"]: n for n in body(admin, f"{HISTORY}{revision}/?view=physical")["nodes"]}
    return {host: (nodes.get(node) or {}).get("attrs", {}).get("ha_role") for host, node in instances.items()}


def causes_between(admin: Client, after: int, upto: int) -> list[JsonDict]:
    rows = body(admin, f"{HISTORY}?before={upto + 1}&limit=200")["revisions"]
    return [c for r in rows if after < r["revision"] <= upto for c in r["causes"]]


def test_a_failover_is_in_the_history_of_the_next_revisions(restored: JsonDict, feed: None) -> None:
    admin = login(restored, "admin")
    router = router_of(restored)
    instances = {host: f"netns:{host}:{router['namespace']}" for host in router["hosts"]}
    active, standby = roles(restored)
    was = {active: "active", standby: "standby"}
    wait_until(lambda: roles_at(admin, newest(admin), instances) == was, timeout=90)  # reports every 20 s
    before = newest(admin)
    assert roles_at(admin, before, instances) == was

    new_active, old_active, moved = failed_over(restored)
    now = {new_active: "active", old_active: "standby"}
    wait_until(lambda: roles_at(admin, newest(admin), instances) == now, timeout=90)
    after = newest(admin)
    print(f"VIPs moved to {new_active} in {moved:.1f} s; history: revision {before} -> {after}")
    assert roles_at(admin, after, instances) == now, "the agents' reports after the failover are in the history"

    changed = body(admin, f"{HISTORY}{after}/?view=physical&compare={before}")["changed"]["nodes"]
    assert set(instances.values()) <= set(changed), changed
    reports = {c["host"] for c in causes_between(admin, before, after) if c["kind"] == "report"}
    assert reports & set(router["hosts"]), causes_between(admin, before, after)
    assert roles_at(admin, before, instances) == was, "the revision before the failover is kept as it was"
