"""Actions against the real lab, with real Keystone logins and a real Celery worker.

The worker runs in a subprocess on this test's database file and on a Redis
database of its own (``JOBS_BROKER_URL``), so other engineers' workers on the
shared Redis never take these jobs and this worker never takes theirs.
Every test undoes what it changes in the lab (floating IPs released, its own
router and networks deleted); cirros-01's floating IP and router1 are only read.
"""

from __future__ import annotations

from typing import Any

import openstack.connection
import pytest

from tasks.models import Job, JobState
from tests.lab_jobs import (
    JOBS_BROKER_URL,
    accepted,
    call,
    celery_worker,
    login,
    start_worker,
    stop_worker,
    wait_job,
)
from tests.lab_jobs import fresh_fip as fresh_fip  # a fixture, used by name
from tests.lab_jobs import shared_broker_restored as shared_broker_restored  # autouse here too
from tests.lab_jobs import worker as worker  # a fixture, used by name

__all__ = [  # what other test files import from here (the helpers now live in tests/lab_jobs.py)
    "JOBS_BROKER_URL",
    "accepted",
    "call",
    "celery_worker",
    "fresh_fip",
    "login",
    "shared_broker_restored",
    "start_worker",
    "stop_worker",
    "wait_job",
]

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]


def test_demo_allocates_associates_and_releases_through_jobs(
    lab: dict[str, Any], worker: Any, demo_cloud: openstack.connection.Connection
) -> None:
    demo = login(lab, "demo")
    job_id = accepted(call(demo, "POST", "/floating-ips/", {"floating_network_id": lab["networks"]["public"]}))
    job = wait_job(job_id)
    assert job.state == JobState.SUCCEEDED, job.message
    fip_id = job.result["floating_ip_id"] if job.result else ""
    try:
        assert call(demo, "GET", f"/jobs/{job_id}/").json()["state"] == "succeeded"
        listed = {f["id"] for f in call(demo, "GET", "/floating-ips/").json()["floating_ips"]}
        assert fip_id in listed
        targets = call(demo, "GET", f"/floating-ips/{fip_id}/targets/").json()["targets"]
        ubuntu = lab["vms"]["ubuntu-01"]
        target = next(t for t in targets if t["port_id"] == ubuntu["port_id"])
        assert target["reachable"] and target["fixed_ip"] == ubuntu["ip"]
        job = wait_job(
            accepted(call(demo, "POST", f"/floating-ips/{fip_id}/associate/", {"port_id": ubuntu["port_id"]}))
        )
        assert job.state == JobState.SUCCEEDED, job.message
        assert demo_cloud.network.get_ip(fip_id).port_id == ubuntu["port_id"]
        job = wait_job(accepted(call(demo, "POST", f"/floating-ips/{fip_id}/disassociate/")))
        assert job.state == JobState.SUCCEEDED and demo_cloud.network.get_ip(fip_id).port_id is None
        job = wait_job(accepted(call(demo, "DELETE", f"/floating-ips/{fip_id}/")))
        assert job.state == JobState.SUCCEEDED
        assert demo_cloud.network.find_ip(fip_id, ignore_missing=True) is None
        # Every action is in the audit log: who, what, how it ended.
        log = call(demo, "GET", "/audit/").json()["entries"]
        assert {(e["action"], e["result"]) for e in log} >= {
            ("floatingip.allocate", "succeeded"),
            ("floatingip.associate", "succeeded"),
            ("floatingip.disassociate", "succeeded"),
            ("floatingip.release", "succeeded"),
        }
        assert {e["user_name"] for e in log} == {"demo"}
    finally:
        if fip_id:
            demo_cloud.network.delete_ip(fip_id, ignore_missing=True)


def test_an_association_without_a_route_is_refused_with_the_reason(
    lab: dict[str, Any],
    fresh_fip: Any,
    demo_cloud: openstack.connection.Connection,
    admin_cloud: openstack.connection.Connection,
) -> None:
    net = demo_cloud.network.create_network(name="jobs-isolated")
    try:
        subnet = demo_cloud.network.create_subnet(
            network_id=net.id, ip_version=4, cidr="10.77.0.0/24", name="jobs-isolated-subnet"
        )
        port = demo_cloud.network.create_port(network_id=net.id, name="jobs-isolated-vm", device_owner="compute:nova")
        demo = login(lab, "demo")
        targets = call(demo, "GET", f"/floating-ips/{fresh_fip.id}/targets/").json()["targets"]
        listed = next(t for t in targets if t["port_id"] == port.id)
        assert not listed["reachable"] and "jobs-isolated-subnet (10.77.0.0/24)" in listed["reason"]
        response = call(demo, "POST", f"/floating-ips/{fresh_fip.id}/associate/", {"port_id": port.id})
        assert response.status_code == 400
        assert "not reachable" in response.json()["detail"] and subnet.cidr in response.json()["detail"]
        assert not Job.objects.exists()
        assert demo_cloud.network.get_ip(fresh_fip.id).port_id is None
    finally:
        # A member may not delete a compute:nova port (Neutron's policy): the admin cleans up.
        for p in admin_cloud.network.ports(network_id=net.id, device_owner="compute:nova"):
            admin_cloud.network.delete_port(p.id, ignore_missing=True)
        admin_cloud.network.delete_network(net.id, ignore_missing=True)  # takes its DHCP port with it


def test_a_neutron_409_shows_its_message(
    lab: dict[str, Any], worker: Any, fresh_fip: Any, demo_cloud: openstack.connection.Connection
) -> None:
    demo = login(lab, "demo")
    cirros = lab["vms"]["cirros-01"]["port_id"]  # already has its floating IP: Neutron answers 409
    job = wait_job(accepted(call(demo, "POST", f"/floating-ips/{fresh_fip.id}/associate/", {"port_id": cirros})))
    assert job.state == JobState.FAILED and job.result == {"status": 409}, job.message
    assert lab["vms"]["cirros-01"]["ip"] in job.message or "already" in job.message, job.message
    assert job.attempts == 1  # a 4xx is not retried
    assert call(demo, "GET", f"/jobs/{job.pk}/").json()["message"] == job.message
    assert demo_cloud.network.get_ip(fresh_fip.id).port_id is None
    assert demo_cloud.network.get_ip(lab["floating_ips"]["cirros-01"]["id"]).port_id == cirros


def test_targets_behind_a_distributed_router(
    dvr_lab: dict[str, Any], demo_cloud: openstack.connection.Connection
) -> None:
    """Horizon bug 1388305: ports behind a DVR router are targets; the association answers from compute2."""
    from lab import api
    from tests.test_topology_dvr import joined
    from topology.api import StoredReports
    from topology.path import explain

    app = dvr_lab["vms"]["vm-app-1"]  # on compute2, behind the distributed router, no floating IP
    demo = login(dvr_lab, "demo")
    fip = demo_cloud.network.create_ip(floating_network_id=dvr_lab["networks"]["public"], description="dvr test")
    try:
        targets = call(demo, "GET", f"/floating-ips/{fip.id}/targets/").json()["targets"]
        target = next(t for t in targets if t["port_id"] == app["port_id"])
        assert target["reachable"] and target["fixed_ip"] == app["ip"], target
        with celery_worker("dvr-worker.log"):
            job = wait_job(
                accepted(call(demo, "POST", f"/floating-ips/{fip.id}/associate/", {"port_id": app["port_id"]}))
            )
        assert job.state == JobState.SUCCEEDED, job.message
        assert api.ping("outside", fip.floating_ip_address, timeout=150)
        # ... answered by compute2's own fip namespace, not by host 1
        path = explain(joined(dvr_lab), StoredReports(), "192.168.1.1", fip.floating_ip_address)
        assert (path["scenario"], path["verdict"]) == ("inbound-fip-dvr", "ok"), path
        public = dvr_lab["networks"]["public"]
        assert f"netns:compute2:fip-{public}" in [h["node"] for h in path["hops"]]
    finally:
        demo_cloud.network.delete_ip(fip.id, ignore_missing=True)
