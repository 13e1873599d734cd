"""Conditions in force on ``GET /api/v1/path/?...&since=1``, off the lab: the synthetic cloud stored and joined
for real (topology/history/conditions.py through changes.py and the API).

The L3 agent on the host of a floating IP's router dies (a cloud refresh: a real revision
recorded); later demo's job moves the floating IP to another VM of the same network. Nothing
applies it (the agent is dead: the router's DNAT rules stay those of the old VM), so outside ->
that floating IP breaks at the move. ``since`` names the move with its job, and the agent's
death, from before the move, as in force since its own revision. demo sees the same (the host is
one it sees); alt asking about demo's address sees nothing of demo's.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from bench.path import OUTSIDE, add_gateways_and_fips
from tasks.models import Job, JobKind, JobState
from tests.browser import caller
from tests.history_inputs import Inputs, rebuild
from tests.map_fixtures import project_of
from tests.test_history import logged_in
from topology.history.models import GraphRevision

pytestmark = pytest.mark.django_db


def since(client: Client, dst: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/path/?src={OUTSIDE}&dst={dst}&since=1")
    assert response.status_code == 200, response.content[:500]
    body: dict[str, Any] = response.json()
    return body


def test_a_floating_ip_moved_while_its_routers_l3_agent_is_dead_names_both() -> None:
    inputs = Inputs(hosts=3, ports=12, projects=2)
    add_gateways_and_fips(inputs.cloud, inputs.reports, fip_every=4)
    inputs.store_all()
    rebuild()
    fip = inputs.cloud["floatingips"][0]
    ports = {p["id"]: p for p in inputs.cloud["ports"]}
    taken = {f["port_id"] for f in inputs.cloud["floatingips"]}
    other = next(
        p
        for p in inputs.cloud["ports"]
        if p["device_owner"].startswith("compute:")
        and p["network_id"] == ports[fip["port_id"]]["network_id"]
        and p["id"] not in taken
    )
    router_host = next(
        p["binding:host_id"]
        for p in inputs.cloud["ports"]
        if p["device_id"] == fip["router_id"] and p["device_owner"] == "network:router_gateway"
    )
    admin = logged_in(Client(), caller("admin", "admin-project", admin=True))
    demo = logged_in(Client(), caller("member-demo", fip["project_id"]))
    address = fip["floating_ip_address"]
    assert since(admin, address)["verdict"] == "ok"
    (l3,) = [a for a in inputs.cloud["agents"] if a["host"] == router_host and a["agent_type"] == "L3 agent"]
    l3["alive"] = False
    inputs.store_cloud()
    died, _ = rebuild()
    died_at = GraphRevision.objects.get(revision=died).at
    dead = since(admin, address)
    assert dead["verdict"] == "ok", dead  # its rules are still there: nothing changed on the data plane
    job = Job.objects.create(
        kind=JobKind.FIP_ASSOCIATE,
        user_id="u-demo",
        user_name="demo",
        project_id=fip["project_id"],
        target=fip["id"],
        state=JobState.RUNNING,
    )
    fip.update(port_id=other["id"], fixed_ip_address=other["fixed_ips"][0]["ip_address"])
    inputs.store_cloud()
    moved, _ = rebuild()
    job.state = JobState.UNCONFIRMED  # as the lab's: Neutron took it, no DNAT rule ever seen
    job.save(update_fields=["state"])
    moved_at = GraphRevision.objects.get(revision=moved).at
    body = since(admin, address)
    assert body["verdict"] == "broken", body
    at = body["since"]["verdict_since"]
    assert at == {"revision": moved, "at": moved_at.isoformat(), "was": "ok"}, body["since"]
    association = f"floating IP {address} associated with {fip['fixed_ip_address']}"
    named = [c for c in body["since"]["changes"] if c["change"].startswith(association)]
    assert named and named[0]["revision"] == moved and f"job {job.pk} by demo" in named[0]["cause"], body["since"]
    (standing,) = body["since"]["in_force"]
    assert standing == {
        "node": f"host:{router_host}",
        "condition": f"the L3 agent on {router_host} dead",
        "revision": died,
        "in_force_since": died_at.isoformat(),
        "cause": "cloud refresh",
        "causes": [{"kind": "cloud"}],
    }
    line = body["since"]["headline"]
    assert line.startswith(f"broken since {moved_at:%H:%M} UTC: {association}") and f"job {job.pk} by demo" in line
    assert line.endswith(f"; in force since {died_at:%H:%M} UTC: the L3 agent on {router_host} dead (cloud refresh)")
    # demo (a member) sees the host its router is on: the same condition, the same change.
    theirs = since(demo, address)["since"]
    assert [c["condition"] for c in theirs["in_force"]] == [standing["condition"]], theirs
    assert any(c["change"].startswith(association) for c in theirs["changes"]), theirs
    # alt, asking about demo's address: the answer to an address nobody has, nothing of demo's in it.
    alt = logged_in(
        Client(), caller("member-alt", project_of(1) if fip["project_id"] == project_of(0) else project_of(0))
    )
    response = alt.get(f"/api/v1/path/?src={OUTSIDE}&dst={address}&since=1")
    text = response.content.decode()
    nobody = alt.get(f"/api/v1/path/?src={OUTSIDE}&dst=192.168.250.250&since=1")
    assert (response.status_code, text) == (nobody.status_code, nobody.content.decode()) == (404, text), text
    assert not any(secret in text for secret in (fip["id"], other["id"], fip["port_id"], f"job {job.pk}", "demo"))
    # Once the agent is alive again, nothing is in force: the listing reads the state at the break,
    # and the revival (after it) is one of the changes, not a standing condition.
    l3["alive"] = True
    inputs.store_cloud()
    rebuild()
    revived = since(admin, address)["since"]
    assert revived["verdict_since"]["revision"] > moved and revived["in_force"] == [], revived
    assert any(c["change"] == f"the L3 agent on {router_host} is alive again" for c in revived["changes"]), revived
