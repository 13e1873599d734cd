"""What changed when the L3 agent died (issue 18's "stop the L3 agent"), against the real lab (allinone).

The lab's L3 agent is stopped for real until Neutron reports it dead (agent_down_time) and the
graph refreshed as the beat would: outside -> cirros-01's floating IP still works (the agent's
rules stay). Then demo's job (the API, a real Celery worker) moves that floating IP to ubuntu-01:
Neutron takes it, but no agent applies it (the router's DNAT rule stays cirros-01's), so the path
breaks at that revision. ``GET /api/v1/path/?...&since=1`` must name both: the floating IP
associated, with its cause (job N by demo) and time, and the condition that explains it, from
before the change: the L3 agent on the lab's host dead since the revision that saw it die
(``in_force``). The agent is started again and the floating IP put back in ``finally``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.broken_states import l3_agent_stopped
from tests.test_actions_confirm_lab import Cloud, run
from tests.test_actions_confirm_lab import feed as feed  # the fixtures this module uses
from tests.test_actions_confirm_lab import restored as restored
from tests.test_actions_confirm_lab import worker as worker
from tests.test_actions_lab import login
from tests.test_actions_lab import shared_broker_restored as shared_broker_restored  # autouse there, so here too
from tests.test_path_broken import pings_again
from tests.test_since_lab import OUTSIDE, since
from tests.test_topology_lab import refresh_all
from topology.history.causes import JOB_WINDOW

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]


@pytest.mark.usefixtures("worker", "restored")
def test_a_floating_ip_moved_while_the_l3_agent_is_dead_names_the_move_and_the_dead_agent(
    lab: dict[str, Any], admin_cloud: Cloud
) -> None:
    host = lab["host"]
    fip = lab["floating_ips"]["cirros-01"]
    address = fip["floating_ip_address"]
    cirros, ubuntu = lab["vms"]["cirros-01"], lab["vms"]["ubuntu-01"]
    demo = login(lab, "demo")
    refresh_all(host)
    assert since(demo, OUTSIDE, address)["verdict"] == "ok"
    dead = f"the L3 agent on {host} dead"
    try:
        with l3_agent_stopped(admin_cloud, host):
            refresh_all(host)  # the cloud refresh that sees Neutron report it dead
            still = since(demo, OUTSIDE, address)
            assert still["verdict"] == "ok", still  # its rules stay: the data plane keeps forwarding
            job = run(demo, "POST", f"/floating-ips/{fip['id']}/associate/", {"port_id": ubuntu["port_id"]})
            assert admin_cloud.network.get_ip(fip["id"]).port_id == ubuntu["port_id"], job.message
            refresh_all(host)
            body = since(demo, OUTSIDE, address)
    finally:
        admin_cloud.network.update_ip(fip["id"], port_id=cirros["port_id"])  # the agent is alive again here
    pings_again("outside", address)
    answer = body["since"]
    assert body["verdict"] == "broken" and answer["verdict"] == "broken", body
    at = answer["verdict_since"]
    assert at and at["was"] == "ok", answer
    association = f"floating IP {address} associated with {ubuntu['ip']} (was {cirros['ip']})"
    moved = [c for c in answer["changes"] if c["change"] == association]
    assert moved and f"job {job.pk} by demo" in moved[0]["cause"], answer["changes"]
    assert moved[0]["revision"] == at["revision"], (moved, at)
    assert job.created_at is not None and job.finished_at is not None
    assert job.created_at <= datetime.fromisoformat(at["at"]) <= job.finished_at + JOB_WINDOW, (at, job.finished_at)
    standing = [c for c in answer["in_force"] if c["condition"] == dead]
    assert len(standing) == 1 and standing[0]["node"] == f"host:{host}", answer["in_force"]
    began = standing[0]
    assert began["revision"] is not None and began["revision"] < at["revision"], (began, at)
    assert began["in_force_since"] < at["at"] and "cloud refresh" in began["cause"], began
    assert not any(c["change"] == f"the L3 agent on {host} died" for c in answer["changes"])  # before the break
    line = answer["headline"]
    assert association in line and f"job {job.pk} by demo" in line, line
    assert f"in force since {datetime.fromisoformat(began['in_force_since']):%H:%M} UTC: {dead}" in line, line
