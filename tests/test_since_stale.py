"""A host's reports going stale is a condition in force in ``since`` (topology/history/conditions.py), for real.

Through the real API and graph service, off the lab (the API variant the issue allows: the lab
would need its agent feed stopped for minutes): the synthetic cloud with gateways stored and
joined; the VM's host's stored report aged through its ``received_at`` past the stale threshold
(HOST_STALE_SECONDS, small here), so the next rebuild (with the clock, as the beat's) marks the
host stale: a revision of its own; then the VM's port goes DOWN in Neutron (a cloud refresh): the
break. ``GET /api/v1/path/?...&since=1`` names the break, and in ``in_force`` the host's stale
reports with the revision and time they went stale and the time of the last report.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from bench.path import OUTSIDE, add_gateways_and_fips
from tests.browser import caller
from tests.history_inputs import Inputs, rebuild
from tests.map_fixtures import project_of
from tests.test_history import logged_in
from topology.history.models import GraphRevision
from topology.models import HostReport

pytestmark = pytest.mark.django_db


def test_a_host_gone_stale_before_the_break_is_in_force_with_its_time(settings: Any) -> None:
    settings.HOST_STALE_SECONDS = 60
    inputs = Inputs(hosts=3, ports=12, projects=2)
    add_gateways_and_fips(inputs.cloud, inputs.reports)  # the synthetic routers' gateways: a path that works
    inputs.store_all()
    rebuild()
    demo = project_of(0)
    port = next(p for p in inputs.cloud["ports"] if p["project_id"] == demo and p["device_owner"] == "compute:nova")
    host = port["binding:host_id"]
    admin = logged_in(Client(), caller("admin", "admin-project", admin=True))
    url = f"/api/v1/path/?src=port:{port['id']}&dst={OUTSIDE}&since=1"
    assert admin.get(url).json()["verdict"] == "ok"
    HostReport.objects.filter(host=host).update(received_at=timezone.now() - timedelta(seconds=120))
    went_stale, graph = rebuild()  # the clock moved past the threshold: the host is stale
    node = next(n for n in graph["nodes"] if n["id"] == f"host:{host}")
    assert node["attrs"].get("stale"), node["attrs"]
    port["status"] = "DOWN"
    inputs.store_cloud()
    broke, _ = rebuild()
    assert broke > went_stale
    body = admin.get(url).json()
    since = body["since"]
    assert body["verdict"] == "broken" and since["verdict_since"]["revision"] == broke, since
    (stale,) = [c for c in since["in_force"] if c["node"] == f"host:{host}"]
    assert stale["condition"] == f"no fresh report from host {host} since {node['attrs']['stale']}"
    assert stale["revision"] == went_stale
    assert stale["in_force_since"] == GraphRevision.objects.get(revision=went_stale).at.isoformat()
    assert any(c["kind"] == "stale" and c.get("host") == host for c in stale["causes"]), stale
    assert "no fresh report from host" in since["headline"]
