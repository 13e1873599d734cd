"""Who may act on what, against the real lab: another project's objects unseen and untouchable, CSRF on every write."""

from __future__ import annotations

from typing import Any

import openstack.connection
import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client

from tasks.models import AuditEntry, Job, JobState
from tests.lab_jobs import (
    call,
    login,
)
from tests.lab_jobs import fresh_fip as fresh_fip  # a fixture, used by name
from tests.lab_jobs import shared_broker_restored as shared_broker_restored  # autouse here too

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]


def test_alt_can_neither_see_nor_touch_demos_objects(
    lab: dict[str, Any], fresh_fip: Any, demo_cloud: openstack.connection.Connection
) -> None:
    demo, alt = login(lab, "demo"), login(lab, "alt")
    router = lab["routers"]["router1"]["id"]
    public = lab["networks"]["public"]
    ubuntu = lab["vms"]["ubuntu-01"]["port_id"]
    before_router = demo_cloud.network.get_router(router)
    # A job row of demo's (not run: only whether alt may read it matters).
    who = demo.session["keystone"]
    demo_job = Job.objects.create(
        kind="floatingip.disassociate",
        user_id=who["user_id"],
        user_name="demo",
        project_id=who["project_id"],
        target=fresh_fip.id,
        state=JobState.SUCCEEDED,
    )

    listed = call(alt, "GET", "/floating-ips/").json()["floating_ips"]
    assert fresh_fip.id not in {f["id"] for f in listed}
    assert lab["floating_ips"]["cirros-01"]["id"] not in {f["id"] for f in listed}
    assert router not in {r["id"] for r in call(alt, "GET", "/routers/").json()["routers"]}
    attempts = [
        ("GET", f"/floating-ips/{fresh_fip.id}/targets/", None),
        ("POST", f"/floating-ips/{fresh_fip.id}/associate/", {"port_id": ubuntu}),
        ("POST", f"/floating-ips/{fresh_fip.id}/disassociate/", None),
        ("DELETE", f"/floating-ips/{fresh_fip.id}/", None),
        ("PUT", f"/routers/{router}/gateway/", {"network_id": public}),
        ("DELETE", f"/routers/{router}/gateway/", None),
        ("POST", f"/routers/{router}/interfaces/", {"subnet_id": lab["subnets"]["private_subnet"]}),
        ("DELETE", f"/routers/{router}/interfaces/{lab['subnets']['private_subnet']}/", None),
        ("POST", f"/security-groups/{lab['security_groups']['demo:default']}/open-icmp-ssh/", None),
        ("GET", f"/jobs/{demo_job.pk}/", None),
    ]
    for method, path, body in attempts:
        response = call(alt, method, path, body)
        assert response.status_code in (403, 404), (method, path, response.status_code, response.content[:300])
    # alt's own FIP cannot be pointed at demo's port either: demo's port "could not be found".
    alt_cloud = login_cloud(lab, "lab-alt")
    alt_fip = alt_cloud.network.create_ip(floating_network_id=public, description="jobs test")
    try:
        response = call(alt, "POST", f"/floating-ips/{alt_fip.id}/associate/", {"port_id": ubuntu})
        assert response.status_code == 404
        targets = call(alt, "GET", f"/floating-ips/{alt_fip.id}/targets/").json()["targets"]
        assert ubuntu not in {t["port_id"] for t in targets}
    finally:
        alt_cloud.network.delete_ip(alt_fip.id, ignore_missing=True)

    # Over the websocket: demo's job is "not found" for alt.
    async def watch() -> dict[str, Any]:
        communicator = WebsocketCommunicator(
            application(),
            "/ws/jobs/",
            headers=[
                (b"origin", b"http://127.0.0.1"),
                (b"host", b"127.0.0.1"),
                (b"cookie", f"sessionid={alt.cookies['sessionid'].value}".encode()),
            ],
        )
        connected, _ = await communicator.connect()
        assert connected
        await communicator.send_json_to({"type": "job.watch", "job": demo_job.pk})
        answer: dict[str, Any] = await communicator.receive_json_from(5)
        await communicator.disconnect()
        return answer

    answer = async_to_sync(watch)()
    assert answer["type"] == "job.error" and answer["status"] == 404
    # Nothing changed in Neutron, no job of alt's was queued, and every refusal is audited.
    after = demo_cloud.network.get_ip(fresh_fip.id)
    assert after.port_id is None and after.revision_number == fresh_fip.revision_number
    assert demo_cloud.network.get_router(router).revision_number == before_router.revision_number
    assert not Job.objects.filter(user_name="alt").exists()
    assert AuditEntry.objects.filter(user_name="alt", result="refused").count() >= 8
    # The admin sees both projects.
    admin = login(lab, "admin")
    admin_fips = {f["id"]: f for f in call(admin, "GET", "/floating-ips/").json()["floating_ips"]}
    assert fresh_fip.id in admin_fips and lab["floating_ips"]["cirros-01"]["id"] in admin_fips
    assert call(admin, "GET", f"/floating-ips/{fresh_fip.id}/targets/").status_code == 200
    assert router in {r["id"] for r in call(admin, "GET", "/routers/").json()["routers"]}


def application() -> Any:
    from dashboard.asgi import application as app

    return app


def login_cloud(lab: dict[str, Any], cloud: str) -> openstack.connection.Connection:
    from tests.conftest import lab_connection

    return lab_connection(cloud)


def test_csrf_is_enforced_on_every_write(lab: dict[str, Any], fresh_fip: Any) -> None:
    demo = login(lab, "demo")
    router = lab["routers"]["router1"]["id"]
    writes = [
        ("POST", "/floating-ips/", {"floating_network_id": lab["networks"]["public"]}),
        ("POST", f"/floating-ips/{fresh_fip.id}/associate/", {"port_id": lab["vms"]["ubuntu-01"]["port_id"]}),
        ("POST", f"/floating-ips/{fresh_fip.id}/disassociate/", None),
        ("DELETE", f"/floating-ips/{fresh_fip.id}/", None),
        ("PUT", f"/routers/{router}/gateway/", {"network_id": lab["networks"]["public"]}),
        ("DELETE", f"/routers/{router}/gateway/", None),
        ("POST", f"/routers/{router}/interfaces/", {"subnet_id": lab["subnets"]["private_subnet"]}),
        ("DELETE", f"/routers/{router}/interfaces/{lab['subnets']['private_subnet']}/", None),
    ]
    for method, path, body in writes:
        response = call(demo, method, path, body, csrf=False)
        assert response.status_code == 403 and "CSRF" in response.json()["detail"], (method, path)
    assert not Job.objects.exists()
    # The login form and the project and logout forms too.
    fresh = Client(enforce_csrf_checks=True)
    assert fresh.post("/login/", {"username": "demo", "password": "x"}).status_code == 403
    assert demo.post("/logout/").status_code == 403
