"""Jobs confirmed by their effect, against the real lab (allinone), issue 23.

Each job kind runs for real through the API and a real Celery worker; its
effect is checked in Neutron and by a real ping (or its failure), and the
job's own confirmation reads the reports of a real node agent (tests/agent_feed.py)
stored in this test's database. router1, cirros-01's floating IP and demo's
default security group are changed here and put back in finally blocks
(restore_lab: the gateway with its original address, the interface, the
floating IP, the ICMP and SSH rules), so later tests find the lab as built.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openstack.connection
import pytest
from django.conf import settings
from django.test import Client
from openstack import exceptions as sdk_exceptions

from lab import api
from tasks.models import AuditEntry, Job, JobState
from tasks.resync import resync_router
from tests.agent_feed import agent_feed
from tests.broken_states import icmp_ssh_reopened, wait_until
from tests.conftest import ARTIFACTS
from tests.test_actions_lab import accepted, call, celery_worker, login, wait_job
from tests.test_actions_lab import shared_broker_restored as shared_broker_restored  # autouse there, so here too
from tests.test_topology_lab import refresh_all
from topology.api import StoredReports
from topology.kinds import DeviceOwner
from topology.path import explain

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]

Cloud = openstack.connection.Connection
NO_REPLY = 8.0  # seconds a ping that must fail is given (lab.api.ping retries until then)
OUTSIDE = "192.168.1.1"  # the outside host on the external network


@pytest.fixture
def feed(lab: dict[str, Any]) -> Iterator[None]:
    with agent_feed(settings.DATABASES["default"]["NAME"], ARTIFACTS / "confirm"):
        yield


@pytest.fixture
def worker(lab: dict[str, Any], feed: None) -> Iterator[None]:
    with celery_worker("confirm-worker.log"):
        yield


def run(client: Client, method: str, path: str, body: Any = None) -> Job:
    return wait_job(accepted(call(client, method, path, body)), timeout=120)


def observed(job: Job) -> dict[str, Any]:
    return dict((job.result or {}).get("observed") or {})


def observed_result(job: Job, key: str) -> str:
    return str((job.result or {})[key])


def confirmed(job: Job) -> dict[str, Any]:
    """The job succeeded and its effect was seen in the data plane, not only in Neutron."""
    assert job.state == JobState.SUCCEEDED, (job.kind, job.state, job.message)
    seen = observed(job)
    assert seen["dataplane_ok"] is True, (job.kind, job.message)
    return seen


def record_seconds(job: Job) -> None:
    """The confirmation's wait for the data plane and the job's run time (start to finish), one line a
    run, for docs/benchmarks.md's p50/p95."""
    assert job.started_at is not None and job.finished_at is not None
    out = ARTIFACTS / "confirm" / f"{job.kind}-seconds.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:
        f.write(f"{observed(job)['seconds']} {(job.finished_at - job.started_at).total_seconds():.2f}\n")


def ubuntu_node(lab: dict[str, Any]) -> str:
    return f"server:{lab['vms']['ubuntu-01']['server_id']}"


def gateway_ports(admin: Cloud, router_id: str) -> list[Any]:
    return list(admin.network.ports(device_id=router_id, device_owner=DeviceOwner.ROUTER_GATEWAY))


def qg_devices(lab: dict[str, Any]) -> list[str]:
    ns = lab["routers"]["router1"]["namespace"]
    out = api.run_on("controller", ["ip", "netns", "exec", ns, "ip", "-br", "link"], capture=True).stdout
    return [line.split("@")[0].split()[0] for line in out.splitlines() if line.startswith("qg-")]


def nat_rules(lab: dict[str, Any]) -> str:
    ns = lab["routers"]["router1"]["namespace"]
    return str(api.run_on("controller", ["ip", "netns", "exec", ns, "iptables-save", "-t", "nat"], capture=True).stdout)


def drop_orphans(admin: Cloud, router_id: str) -> None:
    """What the repair job does, for a test that failed half-way (Neutron refuses a plain delete)."""
    router = admin.network.get_router(router_id)
    if router.external_gateway_info:
        return
    for port in gateway_ports(admin, router_id):
        admin.network.update_port(port.id, device_owner="", device_id="")
        admin.network.delete_port(port.id, ignore_missing=True)
    resync_router(admin, router_id)  # a real router update, so the L3 agent drops the orphan's qg- too


def restore_lab(lab: dict[str, Any], admin: Cloud) -> None:
    """router1 as built (gateway with its original address, the VMs' interface), the FIP, demo's rules."""
    router = lab["routers"]["router1"]
    fip = lab["floating_ips"]["cirros-01"]
    drop_orphans(admin, router["id"])
    info = admin.network.get_router(router["id"]).external_gateway_info or {}
    ips = [ip["ip_address"] for ip in info.get("external_fixed_ips", [])]
    if ips != [router["gateway_ip"]]:
        admin.network.update_ip(fip["id"], port_id=None)
        if info:
            admin.network.update_router(router["id"], external_gateway_info={})
        admin.network.update_router(
            router["id"],
            external_gateway_info={
                "network_id": lab["networks"]["public"],
                "external_fixed_ips": [
                    {"subnet_id": lab["subnets"]["public_subnet"], "ip_address": router["gateway_ip"]}
                ],
            },
        )
    subnet = lab["subnets"]["private_subnet"]
    attached = {ip["subnet_id"] for p in admin.network.ports(device_id=router["id"]) for ip in p.fixed_ips or []}
    if subnet not in attached:
        admin.network.add_interface_to_router(router["id"], subnet=subnet)
    if admin.network.get_ip(fip["id"]).port_id != fip["port_id"]:
        admin.network.update_ip(fip["id"], port_id=fip["port_id"])
    icmp_ssh_reopened(admin, lab["security_groups"]["demo:default"])
    assert api.ping("outside", fip["floating_ip_address"], timeout=90), "the lab's floating IP answers again"


@pytest.fixture
def restored(lab: dict[str, Any], admin_cloud: Cloud) -> Iterator[None]:
    try:
        yield
    finally:
        restore_lab(lab, admin_cloud)


# --------------------------------------------------------------------------- each kind, for real


def test_floating_ip_jobs_are_confirmed_by_the_nat_rules_and_a_ping(
    lab: dict[str, Any], worker: None, demo_cloud: Cloud
) -> None:
    demo = login(lab, "demo")
    ubuntu = lab["vms"]["ubuntu-01"]
    job = run(demo, "POST", "/floating-ips/", {"floating_network_id": lab["networks"]["public"]})
    assert job.state == JobState.SUCCEEDED and "exists on network" in job.message, job.message
    fip_id, address = observed_result(job, "floating_ip_id"), observed_result(job, "floating_ip_address")
    try:
        assert not api.ping("outside", address, timeout=NO_REPLY)
        seen = confirmed(run(demo, "POST", f"/floating-ips/{fip_id}/associate/", {"port_id": ubuntu["port_id"]}))
        assert f"DNAT {address} -> {ubuntu['ip']}" in seen["dataplane"]
        assert demo_cloud.network.get_ip(fip_id).port_id == ubuntu["port_id"]
        assert api.ping("outside", address, timeout=60)
        seen = confirmed(run(demo, "POST", f"/floating-ips/{fip_id}/disassociate/"))
        assert f"no DNAT for {address}" in seen["dataplane"]
        assert demo_cloud.network.get_ip(fip_id).port_id is None
        assert not api.ping("outside", address, timeout=NO_REPLY)
        seen = confirmed(run(demo, "DELETE", f"/floating-ips/{fip_id}/"))
        assert seen["neutron"] == "the floating IP is gone"
        assert demo_cloud.network.find_ip(fip_id, ignore_missing=True) is None
    finally:
        demo_cloud.network.delete_ip(fip_id, ignore_missing=True)


def test_disassociate_then_clear_the_gateway_at_once_leaves_no_orphan_and_ping_agrees(
    lab: dict[str, Any], worker: None, restored: None, admin_cloud: Cloud
) -> None:
    """Issue 23's sequence, as demo does it on the pages: the clear used to end "had no gateway"."""
    demo = login(lab, "demo")
    router = lab["routers"]["router1"]["id"]
    first = accepted(call(demo, "POST", f"/floating-ips/{lab['floating_ips']['cirros-01']['id']}/disassociate/"))
    second = accepted(call(demo, "DELETE", f"/routers/{router}/gateway/"))
    confirmed(wait_job(first, timeout=120))
    clear = wait_job(second, timeout=120)
    seen = confirmed(clear)
    assert clear.message.startswith("gateway cleared"), clear.message
    assert seen["neutron"] == "no gateway and no network:router_gateway port"
    assert gateway_ports(admin_cloud, router) == [] and qg_devices(lab) == []
    assert not api.ping("ubuntu-01", OUTSIDE, timeout=NO_REPLY)  # the router no longer routes out: as the job says
    seen = confirmed(run(demo, "PUT", f"/routers/{router}/gateway/", {"network_id": lab["networks"]["public"]}))
    (port,) = gateway_ports(admin_cloud, router)
    assert f"qg-{port.id[:11]}" in seen["dataplane"] and qg_devices(lab) == [f"qg-{port.id[:11]}"]
    assert api.ping("ubuntu-01", OUTSIDE, timeout=60)


def test_router_interface_jobs_are_confirmed_by_the_qr_device_and_a_ping(
    lab: dict[str, Any], worker: None, restored: None, admin_cloud: Cloud
) -> None:
    demo = login(lab, "demo")
    router, subnet = lab["routers"]["router1"]["id"], lab["subnets"]["private_subnet"]
    admin_cloud.network.update_ip(lab["floating_ips"]["cirros-01"]["id"], port_id=None)  # Neutron needs it free
    seen = confirmed(run(demo, "DELETE", f"/routers/{router}/interfaces/{subnet}/"))
    assert "no qr- device on 10.0.0.0/24" in seen["dataplane"], seen
    assert not api.ping("ubuntu-01", OUTSIDE, timeout=NO_REPLY)
    again = run(demo, "DELETE", f"/routers/{router}/interfaces/{subnet}/")  # a re-run re-checks the effect
    confirmed(again)
    assert "has no interface" in again.message
    seen = confirmed(run(demo, "POST", f"/routers/{router}/interfaces/", {"subnet_id": subnet}))
    assert "with 10.0.0.1 in controller:qrouter-" in seen["dataplane"], seen
    assert api.ping("ubuntu-01", OUTSIDE, timeout=60)


def test_security_group_jobs_are_confirmed_by_the_firewall_chains_and_a_ping(
    lab: dict[str, Any], worker: None, restored: None, demo_cloud: Cloud
) -> None:
    demo = login(lab, "demo")
    group, cirros = lab["security_groups"]["demo:default"], lab["vms"]["cirros-01"]
    address = lab["floating_ips"]["cirros-01"]["floating_ip_address"]
    seen = confirmed(run(demo, "DELETE", f"/security-groups/{group}/open-icmp-ssh/"))
    assert f"neutron-openvswi-i{cirros['port_id'][:10]}" in seen["dataplane"] and "no longer allow" in seen["dataplane"]
    assert not api.ping("outside", address, timeout=NO_REPLY)
    seen = confirmed(run(demo, "POST", f"/security-groups/{group}/open-icmp-ssh/"))
    assert "allow ICMP and SSH" in seen["dataplane"]
    protocols = {
        r.protocol for r in demo_cloud.network.security_group_rules(security_group_id=group, direction="ingress")
    }
    assert {"icmp", "tcp"} <= protocols
    assert api.ping("outside", address, timeout=60)


# --------------------------------------------------------------------------- concurrency and the repair


def test_two_jobs_on_one_router_at_once_both_end_truthfully(
    lab: dict[str, Any], feed: None, restored: None, admin_cloud: Cloud
) -> None:
    """Associate a FIP behind router1 and clear router1's gateway at once, on two workers: Neutron lets
    one through and refuses the other, and each job says which, as the cloud and a ping then show."""
    demo = login(lab, "demo")
    router, fip = lab["routers"]["router1"]["id"], lab["floating_ips"]["cirros-01"]
    admin_cloud.network.update_ip(fip["id"], port_id=None)
    with celery_worker("confirm-worker-a.log"), celery_worker("confirm-worker-b.log"):
        a = accepted(call(demo, "POST", f"/floating-ips/{fip['id']}/associate/", {"port_id": fip["port_id"]}))
        b = accepted(call(demo, "DELETE", f"/routers/{router}/gateway/"))
        associate, clear = wait_job(a, timeout=120), wait_job(b, timeout=120)
    states = {associate.state, clear.state}
    assert states == {JobState.SUCCEEDED, JobState.FAILED}, (associate.message, clear.message)
    has_gateway = bool(admin_cloud.network.get_router(router).external_gateway_info)
    if clear.state == JobState.SUCCEEDED:
        confirmed(clear)
        assert not has_gateway and gateway_ports(admin_cloud, router) == []
        assert admin_cloud.network.get_ip(fip["id"]).port_id is None
        assert not api.ping("ubuntu-01", OUTSIDE, timeout=NO_REPLY)
    else:
        confirmed(associate)
        assert has_gateway and "floating" in clear.message.lower(), clear.message  # Neutron: in use by a FIP
        assert admin_cloud.network.get_ip(fip["id"]).port_id == fip["port_id"]
        assert api.ping("outside", fip["floating_ip_address"], timeout=60)


def test_an_orphan_gateway_port_is_named_refused_to_tenants_and_repaired_by_the_admin_job(
    lab: dict[str, Any], worker: None, restored: None, admin_cloud: Cloud, demo_cloud: Cloud
) -> None:
    router = lab["routers"]["router1"]["id"]
    fip = lab["floating_ips"]["cirros-01"]
    admin_cloud.network.update_ip(fip["id"], port_id=None)
    # The L3 agent must have processed that router update before the half-applied clear: processed after
    # it, the agent reads a router without a gateway and removes qg- itself, and no orphan routes (session
    # 10's rehearsal: the ping below failed once so). The floating IP's DNAT rule gone says it did.
    assert wait_until(lambda: fip["floating_ip_address"] not in nat_rules(lab), timeout=60), nat_rules(lab)
    # The orphan, made for real: the raw If-Match clear Neutron 29 answers 412 after committing half of it.
    before = demo_cloud.network.get_router(router)
    with pytest.raises(sdk_exceptions.HttpException) as raw:
        demo_cloud.network.update_router(before, if_revision=before.revision_number, external_gateway_info={})
    assert raw.value.status_code == 412
    (orphan,) = gateway_ports(admin_cloud, router)
    assert not admin_cloud.network.get_router(router).external_gateway_info and qg_devices(lab)
    assert api.ping("ubuntu-01", OUTSIDE, timeout=60)  # the router still routes by it

    demo, alt, admin = login(lab, "demo"), login(lab, "alt"), login(lab, "admin")
    clear = run(demo, "DELETE", f"/routers/{router}/gateway/")
    assert clear.state == JobState.FAILED and orphan.id in clear.message and "/repair/" in clear.message, clear.message
    setting = run(demo, "PUT", f"/routers/{router}/gateway/", {"network_id": lab["networks"]["public"]})
    assert setting.state == JobState.FAILED and orphan.id in setting.message, setting.message
    for tenant in (demo, alt):
        response = call(tenant, "POST", f"/routers/{router}/repair/")
        assert response.status_code == 403, response.content[:300]
    assert admin_cloud.network.get_port(orphan.id).device_owner == DeviceOwner.ROUTER_GATEWAY  # untouched
    assert AuditEntry.objects.filter(action="router.gateway.repair", result="refused").count() == 2
    demo_router = next(r for r in call(demo, "GET", "/routers/").json()["routers"] if r["id"] == router)
    assert "orphan_gateway_ports" not in demo_router  # members cannot list gateway ports: no claim made
    listed = next(r for r in call(admin, "GET", "/routers/").json()["routers"] if r["id"] == router)
    assert [p["port_id"] for p in listed["orphan_gateway_ports"]] == [orphan.id]

    repair = run(admin, "POST", f"/routers/{router}/repair/")
    # Once unconfirmed in 3 runs of 4 (session 4): the repair's "touch" sent the router's own description
    # back, which openstacksdk does not even send, so the L3 agent kept the orphan's qg-. Now a real change
    # (tasks/resync.py) makes the agent process the router, and the job waits for a report without it.
    seen = confirmed(repair)
    record_seconds(repair)
    assert orphan.id in repair.message and seen["neutron"] == "no network:router_gateway port left", repair.message
    assert f"no qg- device in {lab['host']}:{lab['routers']['router1']['namespace']}" == seen["dataplane"], seen
    with pytest.raises(sdk_exceptions.NotFoundException):
        admin_cloud.network.get_port(orphan.id)
    assert gateway_ports(admin_cloud, router) == [] and qg_devices(lab) == []  # in Neutron and on the node
    assert admin_cloud.network.get_router(router).description == before.description  # the resync put it back
    assert not api.ping("ubuntu-01", OUTSIDE, timeout=NO_REPLY)
    result = explain(refresh_all(lab["host"]).graph, StoredReports(), ubuntu_node(lab), OUTSIDE)
    assert result["verdict"] == "broken", result["problems"]  # as the ping: the router no longer routes out
    assert "router_no_gateway" in [p["code"] for p in result["problems"]], result["problems"]
    assert "gateway_port_orphaned" not in [p["code"] for p in result["problems"]], result["problems"]
    assert call(admin, "POST", f"/routers/{router}/repair/").status_code == 409  # nothing left to repair
    confirmed(run(demo, "PUT", f"/routers/{router}/gateway/", {"network_id": lab["networks"]["public"]}))
    assert api.ping("ubuntu-01", OUTSIDE, timeout=60)
