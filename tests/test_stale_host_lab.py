"""A host whose last report is old turns stale on the next rebuild, and fresh on its next real report (real lab).

The lab's node agent on the controller reports to a real daphne on this test's
database (the fixtures of test_lab_agents.py); then the agent is stopped for real
and the host goes silent for longer than the stale bound (set short here,
``HOST_STALE_SECONDS``, as DASHBOARD_HOST_STALE_INTERVALS would); the beat's own
refresh task then rebuilds, with no new report arriving. The map's topology
(admin) and the explainer (demo, through the real login) show it; starting the
agent again makes it report, and the host is fresh once more.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from tasks.tasks import refresh_cloud
from tests.test_actions_lab import call, login
from tests.test_lab_agents import agent_tokens, dashboard_on_8000
from topology.models import GraphState, HostReport
from topology.path import Problem

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]
__all__ = ["agent_tokens", "dashboard_on_8000"]  # fixtures, used by name
HOST = "controller"
STALE_AFTER = 30  # seconds of silence before the host is stale (the default is 3 agent intervals)


def wait_report(after: Any = None, timeout: float = 90) -> HostReport:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = HostReport.objects.filter(host=HOST).first()
        if row is not None and (after is None or row.received_at > after):
            return row
        time.sleep(0.5)
    raise AssertionError(f"no report from {HOST} after {timeout}s")


def host_node(graph: dict[str, Any]) -> dict[str, Any]:
    return next(n for n in graph["nodes"] if n["id"] == f"host:{HOST}")


def stored_host() -> dict[str, Any]:
    return host_node(GraphState.objects.get(id=1).graph)


def test_a_silent_host_turns_stale_after_a_rebuild_and_fresh_on_its_next_report(
    lab: dict[str, Any], dashboard_on_8000: None, agent_tokens: None, settings: Any
) -> None:
    from lab import api, nodeagent

    api.up("allinone")  # already up: starts the node agents now that their tokens exist
    try:
        wait_report()
        refresh_cloud.apply()
        assert stored_host()["status"] != "STALE" and "stale" not in stored_host()["attrs"]

        nodeagent.stop(HOST)  # the host goes silent for real: no report arrives from here on
        last = HostReport.objects.get(host=HOST).received_at
        since = last.replace(microsecond=0).isoformat()
        settings.HOST_STALE_SECONDS = STALE_AFTER
        refresh_cloud.apply()  # not silent for long enough yet
        assert "stale" not in stored_host()["attrs"]
        time.sleep(max(0.0, (last + timedelta(seconds=STALE_AFTER + 1) - timezone.now()).total_seconds()))
        assert HostReport.objects.get(host=HOST).received_at == last  # really silent
        refresh_cloud.apply()  # what beat runs: no report arrives in between
        node = stored_host()
        assert (node["status"], node["attrs"]["stale"]) == ("STALE", since)

        admin, demo = login(lab, "admin"), login(lab, "demo")
        shown = host_node(call(admin, "GET", "/topology/?view=physical").json())
        assert (shown["status"], shown["attrs"]["stale"]) == ("STALE", since)
        assert f"no fresh report from host {HOST} since {since}" in " ".join(shown["attrs"]["warnings"])

        vms = lab["vms"]
        path = call(demo, "GET", f"/path/?src={vms['cirros-01']['ip']}&dst={vms['ubuntu-01']['ip']}")
        assert path.status_code == 200, path.content[:300]
        result = path.json()
        stale = [p for p in result["problems"] if p["code"] == Problem.HOST_STALE]
        assert [p["severity"] for p in stale] == ["warn"]
        assert f"no fresh report from host {HOST} since {since}" in stale[0]["message"]
        on_host = [h for h in result["hops"] if h["host"] == HOST]
        assert on_host and all(h["status"] in ("warn", "fail") for h in on_host)

        # The next real report (the agent started again: it reports at once) makes it fresh again.
        api.up("allinone")
        wait_report(after=last)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "stale" in stored_host()["attrs"]:
            time.sleep(0.5)  # the ingest in daphne rebuilds the graph
        node = stored_host()
        assert node["status"] != "STALE" and "stale" not in node["attrs"]
        fresh = call(demo, "GET", f"/path/?src={vms['cirros-01']['ip']}&dst={vms['ubuntu-01']['ip']}").json()
        assert not [p for p in fresh["problems"] if p["code"] == Problem.HOST_STALE]
    finally:
        nodeagent.stop(HOST)
