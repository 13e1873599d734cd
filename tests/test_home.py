"""Login with the lab's Keystone, and the home page listing what Neutron shows that user."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from django.test import Client

from tests.conftest import lab_password

pytestmark = [pytest.mark.lab, pytest.mark.django_db]


def login(client: Client, lab: dict[str, Any], user: str) -> Any:
    return client.post("/login/", {"username": user, "password": lab_password(lab, user), "domain": "Default"})


def test_it_sends_anonymous_visitors_to_the_login_page(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_demo_logs_in_and_sees_router1_public_and_private(lab: dict[str, Any], client: Client) -> None:
    response = login(client, lab, "demo")
    assert response.status_code == 302, response.content
    page = client.get("/").content.decode()
    for name in ("router1", "public", "private"):
        assert f'<td class="name">{name}</td>' in page
    assert lab["routers"]["router1"]["id"] in page
    assert "project <strong>demo</strong>" in page


def test_alt_sees_public_but_nothing_of_demo(lab: dict[str, Any], client: Client) -> None:
    assert login(client, lab, "alt").status_code == 302
    page = client.get("/").content.decode()
    assert '<td class="name">public</td>' in page
    assert "router1" not in page and '<td class="name">private</td>' not in page


def test_a_wrong_password_is_refused_with_a_reason(lab: dict[str, Any], client: Client) -> None:
    response = client.post("/login/", {"username": "demo", "password": "nope", "domain": "Default"})
    assert response.status_code == 401
    assert "user name or password is wrong" in response.content.decode()
    assert client.get("/").status_code == 302


def test_admin_sees_every_project_and_logs_out(lab: dict[str, Any], client: Client) -> None:
    assert login(client, lab, "admin").status_code == 302
    page = client.get("/").content.decode()
    assert "(admin: every project)" in page
    response = client.post("/logout/")
    assert response.status_code == 302
    assert client.get("/").status_code == 302


@pytest.fixture
def alt_vm(lab: dict[str, Any], alt_cloud: Any, admin_cloud: Any) -> Iterator[dict[str, Any]]:
    """A VM port and a floating IP of project alt (the lab's allinone gives alt nothing of its own).

    alt makes them (so they are alt's); the admin cloud takes them away, since Neutron's policy lets a
    tenant not delete a ``compute:nova`` port (that is Nova's to do). Each object goes even when a later
    step or the test fails.
    """
    import uuid

    with ExitStack() as cleanup:
        public = alt_cloud.network.find_network("public")
        net = alt_cloud.network.create_network(name="alt-home-net")
        cleanup.callback(admin_cloud.network.delete_network, net.id, ignore_missing=True)
        subnet = alt_cloud.network.create_subnet(
            network_id=net.id, ip_version=4, cidr="10.98.0.0/24", name="alt-home-subnet"
        )
        cleanup.callback(admin_cloud.network.delete_subnet, subnet.id, ignore_missing=True)
        port = alt_cloud.network.create_port(
            network_id=net.id, name="alt-home-vm", device_owner="compute:nova", device_id=str(uuid.uuid4())
        )
        cleanup.callback(admin_cloud.network.delete_port, port.id, ignore_missing=True)
        fip = alt_cloud.network.create_ip(floating_network_id=public.id)
        cleanup.callback(admin_cloud.network.delete_ip, fip.id, ignore_missing=True)
        yield {"port": port, "fip": fip, "ip": port.fixed_ips[0]["ip_address"]}


def shows(page: str, token: str) -> bool:
    """``token`` on the page as a whole name, id or address (192.168.1.15 is not in 192.168.1.150)."""
    return re.search(rf"(?<![\w.-]){re.escape(token)}(?![\w-]|\.\d)", page) is not None


def tokens_of_demo(lab: dict[str, Any]) -> list[str]:
    """demo's VMs by name, port id, fixed IP and floating IP (as the lab made them)."""
    found: list[str] = []
    for name in ("cirros-01", "ubuntu-01"):
        vm = lab["vms"][name]
        found += [name, vm["port_id"], vm["ip"]] + ([vm["floating_ip"]] if vm.get("floating_ip") else [])
    return found


def test_demo_sees_its_vms_ports_and_floating_ips_and_nothing_of_alt(
    lab: dict[str, Any], client: Client, alt_vm: dict[str, Any]
) -> None:
    assert login(client, lab, "demo").status_code == 302
    page = client.get("/").content.decode()
    cirros = lab["vms"]["cirros-01"]
    assert cirros["floating_ip"], "the allinone lab gives cirros-01 a floating IP"
    assert '<table class="grid" id="vms">' in page
    assert '<td class="name">cirros-01</td>' in page and '<td class="name">ubuntu-01</td>' in page
    assert f'<tr data-id="{cirros["port_id"]}">' in page  # the port's row
    assert f'<td class="address">{cirros["floating_ip"]}</td>' in page
    assert f'<td class="floating-ips">{cirros["floating_ip"]}</td>' in page  # on its VM's row
    for token in tokens_of_demo(lab):
        assert shows(page, token), token
    for token in (
        "alt-home-vm",
        alt_vm["port"].id,
        alt_vm["port"].device_id,
        alt_vm["ip"],
        alt_vm["fip"].id,
        alt_vm["fip"].floating_ip_address,
    ):
        assert not shows(page, token), f"demo's home page shows alt's {token}"


def test_alt_sees_its_own_vm_and_floating_ip_and_nothing_of_demo(
    lab: dict[str, Any], client: Client, alt_vm: dict[str, Any]
) -> None:
    assert login(client, lab, "alt").status_code == 302
    page = client.get("/").content.decode()
    assert '<td class="name">alt-home-vm</td>' in page
    for token in (
        alt_vm["port"].id,
        alt_vm["port"].device_id,
        alt_vm["ip"],
        alt_vm["fip"].id,
        alt_vm["fip"].floating_ip_address,
    ):
        assert shows(page, token), token
    for token in tokens_of_demo(lab):
        assert not shows(page, token), f"alt's home page shows demo's {token}"
