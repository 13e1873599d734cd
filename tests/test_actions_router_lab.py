"""Router actions through jobs against the real lab: gateway and interfaces on a router of the test's own."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

import openstack.connection
import pytest

from tasks.models import JobState
from tests.lab_jobs import (
    accepted,
    call,
    login,
    wait_job,
)
from tests.lab_jobs import shared_broker_restored as shared_broker_restored  # autouse here too
from tests.lab_jobs import worker as worker  # a fixture, used by name

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]


def test_router_gateway_and_interfaces_through_jobs(
    lab: dict[str, Any], worker: Any, demo_cloud: openstack.connection.Connection
) -> None:
    """On a router of the test's own (router1 is left alone)."""
    public = lab["networks"]["public"]
    router = demo_cloud.network.create_router(name="jobs-test-router")
    net = demo_cloud.network.create_network(name="jobs-test-net")
    try:
        subnet = demo_cloud.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.78.0.0/24")
        demo = login(lab, "demo")
        # A member's gateway carries network_id only (Neutron's policy): enable_snat is refused up front.
        refused = call(demo, "PUT", f"/routers/{router.id}/gateway/", {"network_id": public, "enable_snat": False})
        assert refused.status_code == 403 and "enable_snat" in refused.json()["detail"]
        job = wait_job(accepted(call(demo, "PUT", f"/routers/{router.id}/gateway/", {"network_id": public})))
        assert job.state == JobState.SUCCEEDED, job.message
        assert demo_cloud.network.get_router(router.id).external_gateway_info["network_id"] == public
        again = wait_job(accepted(call(demo, "PUT", f"/routers/{router.id}/gateway/", {"network_id": public})))
        assert again.state == JobState.SUCCEEDED and "already" in again.message  # idempotent: no write
        job = wait_job(accepted(call(demo, "POST", f"/routers/{router.id}/interfaces/", {"subnet_id": subnet.id})))
        assert job.state == JobState.SUCCEEDED, job.message
        listed = next(r for r in call(demo, "GET", "/routers/").json()["routers"] if r["id"] == router.id)
        assert [i["subnet_id"] for i in listed["interfaces"]] == [subnet.id]
        job = wait_job(accepted(call(demo, "DELETE", f"/routers/{router.id}/interfaces/{subnet.id}/")))
        assert job.state == JobState.SUCCEEDED, job.message
        job = wait_job(accepted(call(demo, "DELETE", f"/routers/{router.id}/gateway/")))
        assert job.state == JobState.SUCCEEDED, job.message
        assert not demo_cloud.network.get_router(router.id).external_gateway_info
    finally:
        for p in demo_cloud.network.ports(device_id=router.id):
            if p.device_owner != "network:router_gateway":
                with suppress(Exception):
                    demo_cloud.network.remove_interface_from_router(router.id, port=p.id)
        demo_cloud.network.delete_router(router.id, ignore_missing=True)
        demo_cloud.network.delete_network(net.id, ignore_missing=True)
