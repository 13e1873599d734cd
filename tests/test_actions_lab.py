"""Actions against the real lab, with real Keystone logins and a real Celery worker.

The worker runs in a subprocess on this test's database file and on a Redis
database of its own (``JOBS_BROKER_URL``), so other engineers' workers on the
shared Redis never take these jobs and this worker never takes theirs.
Every test undoes what it changes in the lab (floating IPs released, its own
router and networks deleted); cirros-01's floating IP and router1 are only read.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import openstack.connection
import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from tasks.models import AuditEntry, Job, JobState
from tests.conftest import ARTIFACTS, REPO, lab_password

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]

JOBS_BROKER_URL = os.environ.get("JOBS_TEST_BROKER_URL", "redis://127.0.0.1:6379/11")
API = "/api/v1"


# --------------------------------------------------------------------------- a real worker


@pytest.fixture(autouse=True)
def shared_broker_restored() -> Iterator[None]:
    """Give the next test files back the broker they expect (use_own_broker switches it)."""
    from dashboard.celery import app

    saved = app.conf.broker_url
    yield
    if app.conf.broker_url != saved:
        app.conf.broker_url = saved
        forget_connections(app)


def forget_connections(app: Any) -> None:
    """Drop the connection pool and the producer pool built on it (control commands publish with it)."""
    app._pool = None
    app.amqp._producer_pool = None


def use_own_broker() -> None:
    """This process sends its jobs to the test broker too."""
    from dashboard.celery import app

    if app.conf.broker_url != JOBS_BROKER_URL:
        app.conf.broker_url = JOBS_BROKER_URL
        forget_connections(app)  # no producer connected to the shared broker yet, or forget it


def start_worker(log_name: str, **extra_env: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{settings.DATABASES['default']['NAME']}",
        "CELERY_BROKER_URL": JOBS_BROKER_URL,
        "CELERY_VISIBILITY_TIMEOUT": "3",
        **extra_env,
    }
    log = ARTIFACTS / "jobs" / log_name
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "celery"), "-A", "dashboard", "worker", "--pool", "solo",
             "-n", f"jobs-{os.getpid()}-{time.monotonic_ns()}@localhost", "--loglevel", "INFO"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    return proc


def stop_worker(proc: subprocess.Popen[bytes], grace: float = 30) -> None:
    """Terminate ``proc`` (a worker, a server, an agent), killing it after ``grace`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@contextmanager
def celery_worker(log_name: str = "worker.log", **extra_env: str) -> Iterator[subprocess.Popen[bytes]]:
    use_own_broker()
    proc = start_worker(log_name, **extra_env)
    try:
        yield proc
    finally:
        stop_worker(proc)


def wait_job(job_id: int, timeout: float = 90, until: Any = None) -> Job:
    """Until the job finished (or ``until(job)`` holds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if (until(job) if until else job.finished):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {Job.objects.get(pk=job_id).state} after {timeout}s")


# --------------------------------------------------------------------------- logging in for real


def login(lab: dict[str, Any], user: str) -> Client:
    """A browser-like client logged in through the real login page (Keystone), CSRF enforced."""
    client = Client(enforce_csrf_checks=True)
    client.get("/login/")
    response = client.post("/login/", {
        "username": user, "password": lab_password(lab, user), "domain": "Default",
        "csrfmiddlewaretoken": client.cookies["csrftoken"].value, "next": "/",
    })
    assert response.status_code == 302, response.content[:500]
    return client


def call(client: Client, method: str, path: str, body: Any = None, csrf: bool = True) -> Any:
    headers = {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value} if csrf else {}
    data = json.dumps(body) if body is not None else None
    return getattr(client, method.lower())(API + path, data=data, content_type="application/json", **headers)


def accepted(response: Any) -> int:
    assert response.status_code == 202, (response.status_code, response.content[:500])
    return int(response.json()["job"])


@pytest.fixture
def worker(lab: dict[str, Any]) -> Iterator[subprocess.Popen[bytes]]:
    """One per test: the kill test needs to be sure that no other worker takes its job."""
    with celery_worker() as proc:
        yield proc


@pytest.fixture
def fresh_fip(lab: dict[str, Any], demo_cloud: openstack.connection.Connection) -> Iterator[Any]:
    """A floating IP of demo's, allocated for the test and released after it."""
    fip = demo_cloud.network.create_ip(floating_network_id=lab["networks"]["public"], description="jobs test")
    try:
        yield fip
    finally:
        demo_cloud.network.delete_ip(fip.id, ignore_missing=True)


# --------------------------------------------------------------------------- the tests


def test_demo_allocates_associates_and_releases_through_jobs(
        lab: dict[str, Any], worker: Any, demo_cloud: openstack.connection.Connection) -> None:
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
        job = wait_job(accepted(call(demo, "POST", f"/floating-ips/{fip_id}/associate/",
                                     {"port_id": ubuntu["port_id"]})))
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
            ("floatingip.allocate", "succeeded"), ("floatingip.associate", "succeeded"),
            ("floatingip.disassociate", "succeeded"), ("floatingip.release", "succeeded")}
        assert {e["user_name"] for e in log} == {"demo"}
    finally:
        if fip_id:
            demo_cloud.network.delete_ip(fip_id, ignore_missing=True)


def test_alt_can_neither_see_nor_touch_demos_objects(
        lab: dict[str, Any], fresh_fip: Any, demo_cloud: openstack.connection.Connection) -> None:
    demo, alt = login(lab, "demo"), login(lab, "alt")
    router = lab["routers"]["router1"]["id"]
    public = lab["networks"]["public"]
    ubuntu = lab["vms"]["ubuntu-01"]["port_id"]
    before_router = demo_cloud.network.get_router(router)
    # A job row of demo's (not run: only whether alt may read it matters).
    who = demo.session["keystone"]
    demo_job = Job.objects.create(kind="floatingip.disassociate", user_id=who["user_id"], user_name="demo",
                                  project_id=who["project_id"], target=fresh_fip.id, state=JobState.SUCCEEDED)

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
            application(), "/ws/jobs/",
            headers=[(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1"),
                     (b"cookie", f"sessionid={alt.cookies['sessionid'].value}".encode())])
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


def test_an_association_without_a_route_is_refused_with_the_reason(
        lab: dict[str, Any], fresh_fip: Any, demo_cloud: openstack.connection.Connection,
        admin_cloud: openstack.connection.Connection) -> None:
    net = demo_cloud.network.create_network(name="jobs-isolated")
    try:
        subnet = demo_cloud.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.77.0.0/24",
                                                  name="jobs-isolated-subnet")
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


def test_a_neutron_409_shows_its_message(lab: dict[str, Any], worker: Any, fresh_fip: Any,
                                         demo_cloud: openstack.connection.Connection) -> None:
    demo = login(lab, "demo")
    cirros = lab["vms"]["cirros-01"]["port_id"]  # already has its floating IP: Neutron answers 409
    job = wait_job(accepted(call(demo, "POST", f"/floating-ips/{fresh_fip.id}/associate/", {"port_id": cirros})))
    assert job.state == JobState.FAILED and job.result == {"status": 409}, job.message
    assert lab["vms"]["cirros-01"]["ip"] in job.message or "already" in job.message, job.message
    assert job.attempts == 1  # a 4xx is not retried
    assert call(demo, "GET", f"/jobs/{job.pk}/").json()["message"] == job.message
    assert demo_cloud.network.get_ip(fresh_fip.id).port_id is None
    assert demo_cloud.network.get_ip(lab["floating_ips"]["cirros-01"]["id"]).port_id == cirros


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


def test_two_identical_requests_at_once_associate_once(
        lab: dict[str, Any], worker: Any, fresh_fip: Any, demo_cloud: openstack.connection.Connection) -> None:
    demo = login(lab, "demo")
    port = lab["vms"]["ubuntu-01"]["port_id"]
    answers: list[Any] = []
    barrier = threading.Barrier(2)

    def request(client: Client) -> None:
        barrier.wait()
        answers.append(call(client, "POST", f"/floating-ips/{fresh_fip.id}/associate/", {"port_id": port}))

    tab = Client(enforce_csrf_checks=True)  # a second tab of the same session
    tab.cookies = demo.cookies
    threads = [threading.Thread(target=request, args=(c,)) for c in (demo, tab)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    job_ids = {accepted(a) for a in answers}
    assert len(job_ids) == 1, job_ids
    job = wait_job(job_ids.pop())
    assert job.state == JobState.SUCCEEDED, job.message
    assert Job.objects.filter(kind="floatingip.associate").count() == 1
    assert [f.id for f in demo_cloud.network.ips(port_id=port)] == [fresh_fip.id]
    demo_cloud.network.update_ip(fresh_fip.id, port_id=None)


def test_a_killed_worker_finishes_the_association_exactly_once_when_it_returns(
        lab: dict[str, Any], fresh_fip: Any, demo_cloud: openstack.connection.Connection) -> None:
    demo = login(lab, "demo")
    port = lab["vms"]["ubuntu-01"]["port_id"]
    use_own_broker()
    # Wide steps (3 s) so the test can kill the worker after Neutron's write and before the job ends.
    first = start_worker("killed-worker.log", DASHBOARD_JOB_STEP_DELAY="3")
    try:
        job_id = accepted(call(demo, "POST", f"/floating-ips/{fresh_fip.id}/associate/", {"port_id": port}))
        wait_job(job_id, timeout=60, until=lambda j: j.progress >= 80)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        stop_worker(first)
    job = Job.objects.get(pk=job_id)
    assert job.state == JobState.RUNNING and job.attempts == 1
    assert demo_cloud.network.get_ip(fresh_fip.id).port_id == port  # written, but the job did not end
    time.sleep(4)  # past the visibility timeout: the unacknowledged message comes back to the next worker
    try:
        with celery_worker("returned-worker.log"):
            job = wait_job(job_id, timeout=60)
        assert job.state == JobState.SUCCEEDED, job.message
        assert job.attempts == 2 and "already points at" in job.message
        assert AuditEntry.objects.filter(job_id=job_id, result="succeeded").count() == 1
        assert [f.id for f in demo_cloud.network.ips(port_id=port)] == [fresh_fip.id]
    finally:
        demo_cloud.network.update_ip(fresh_fip.id, port_id=None)


def test_router_gateway_and_interfaces_through_jobs(
        lab: dict[str, Any], worker: Any, demo_cloud: openstack.connection.Connection) -> None:
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


def test_targets_behind_a_distributed_router(
        dvr_lab: dict[str, Any], demo_cloud: openstack.connection.Connection) -> None:
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
            job = wait_job(accepted(call(demo, "POST", f"/floating-ips/{fip.id}/associate/",
                                         {"port_id": app["port_id"]})))
        assert job.state == JobState.SUCCEEDED, job.message
        assert api.ping("outside", fip.floating_ip_address, timeout=150)
        # ... answered by compute2's own fip namespace, not by host 1
        path = explain(joined(dvr_lab), StoredReports(), "192.168.1.1", fip.floating_ip_address)
        assert (path["scenario"], path["verdict"]) == ("inbound-fip-dvr", "ok"), path
        public = dvr_lab["networks"]["public"]
        assert f"netns:compute2:fip-{public}" in [h["node"] for h in path["hops"]]
    finally:
        demo_cloud.network.delete_ip(fip.id, ignore_missing=True)
