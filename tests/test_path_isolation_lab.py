"""The path explainer tells a project nothing of another, asked by address, by node id or with
overlapping IPs, with every probe: alt vs demo and demo vs alt, real Keystone tokens, real Neutron.

The secrets are listed from Neutron as admin (tests/leak_check.py), not from our graph, and each
test also checks that an admin's answer to one of the same questions does name them: the grep
finds what it is looking for when it is there.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.test import Client

from tests.conftest import lab_connection
from tests.leak_check import Cloud, leaks, project_secrets
from tests.test_path_dvr import OUTSIDE
from tests.test_topology_dvr import joined
from tests.test_topology_lab import keystone_token

pytestmark = [pytest.mark.lab, pytest.mark.django_db]
PROBES = ("icmp", "ssh", "tcp:22", "tcp:8080", "udp:53")


@contextmanager
def tenant_ports(cloud: Cloud, name: str, cidr: str, ips: list[str]) -> Iterator[list[dict[str, Any]]]:
    """A network, a subnet of ``cidr`` (no DHCP: nothing for the agents to do) and a port per IP, made
    as the tenant of ``cloud`` and deleted afterwards."""
    network = cloud.network.create_network(name=name)
    try:
        subnet = cloud.network.create_subnet(
            network_id=network.id, cidr=cidr, ip_version=4, name=f"{name}-subnet", enable_dhcp=False
        )
        ports = [
            cloud.network.create_port(
                network_id=network.id, name=f"{name}-port{i}", fixed_ips=[{"subnet_id": subnet.id, "ip_address": ip}]
            )
            for i, ip in enumerate(ips)
        ]
        yield [p.to_dict() for p in ports]
    finally:
        for port in cloud.network.ports(network_id=network.id):
            cloud.network.delete_port(port)
        cloud.network.delete_network(network)


def unheld_address(admin: Cloud, cidr: str, first: int) -> str:
    """The first address of ``cidr`` from host ``first`` on that no port in the cloud holds. Neutron
    allocates a VM's address at random from the pool, so a fixed one (10.0.0.200) may be a VM's."""
    held = {ip["ip_address"] for p in admin.network.get("/ports").json()["ports"] for ip in p["fixed_ips"]}
    hosts = list(ipaddress.ip_network(cidr).hosts())[first - 1 :]
    return next(str(a) for a in hosts if str(a) not in held)


def ask(client: Client, token: str, src: str, dst: str, probe: str = "icmp") -> tuple[int, str]:
    response = client.get("/api/v1/path/", {"src": src, "dst": dst, "probe": probe}, HTTP_X_AUTH_TOKEN=token)
    return response.status_code, response.content.decode()


def assert_tells_nothing(
    client: Client, token: str, secrets: set[str], questions: list[tuple[str, str]], probes: tuple[str, ...] = PROBES
) -> list[tuple[int, str]]:
    answers = []
    for src, dst in questions:
        for probe in probes:
            status, body = ask(client, token, src, dst, probe)
            assert status in (200, 404), (src, dst, probe, status, body)
            assert leaks(body, secrets) == [], (src, dst, probe, body)
            answers.append((status, body))
    return answers


def state_secrets(state: dict[str, Any], admin: Cloud, of: str, caller: str) -> set[str]:
    projects = state["projects"]
    vms = {name: vm["port_id"] for name, vm in state["vms"].items()}
    return project_secrets(admin, projects[of], projects[caller], vms)


@pytest.fixture
def allinone_alt_ports(lab: dict[str, Any], admin_cloud: Cloud) -> Iterator[list[dict[str, Any]]]:
    """alt gets demo's subnet again (10.0.0.0/24) with cirros-01's address, and an address of its own
    that none of demo's ports holds."""
    own = unheld_address(admin_cloud, "10.0.0.0/24", 200)
    addresses = [lab["vms"]["cirros-01"]["ip"], own]
    with tenant_ports(lab_connection("lab-alt"), "leak-alt", "10.0.0.0/24", addresses) as ports:
        joined(lab)
        yield ports


def test_alt_learns_nothing_of_demo_by_address_or_node_id(
    lab: dict[str, Any], admin_cloud: Cloud, client: Client, allinone_alt_ports: list[dict[str, Any]]
) -> None:
    cirros, ubuntu = lab["vms"]["cirros-01"], lab["vms"]["ubuntu-01"]
    secrets = state_secrets(lab, admin_cloud, "demo", "alt")
    assert cirros["port_id"] in secrets and cirros["floating_ip"] in secrets and "router1" in secrets
    own = f"port:{allinone_alt_ports[1]['id']}"
    admin_status, admin_body = ask(client, keystone_token(lab, "admin"), OUTSIDE, cirros["floating_ip"], "tcp:22")
    # the check can fail: the admin's answer names demo's port (by its device prefix, in qbr/qvo names)
    assert admin_status == 200 and cirros["port_id"][:11] in leaks(admin_body, secrets), "the grep finds demo's port"
    alt = keystone_token(lab, "alt")
    answers = assert_tells_nothing(
        client,
        alt,
        secrets,
        [
            (OUTSIDE, cirros["floating_ip"]),  # the first question
            (own, ubuntu["ip"]),  # its own port to demo's fixed IP
            (own, cirros["floating_ip"]),
            (ubuntu["ip"], cirros["floating_ip"]),  # two of demo's addresses
            (cirros["floating_ip"], OUTSIDE),
            (OUTSIDE, f"port:{cirros['port_id']}"),  # by node id
            (OUTSIDE, f"server:{cirros['server_id']}"),
            (OUTSIDE, f"fip:{lab['floating_ips']['cirros-01']['id']}"),
            (f"port:{ubuntu['port_id']}", OUTSIDE),
        ],
    )
    first = json.loads(answers[0][1])
    assert answers[0][0] == 404 and "one end must be a port" in first["detail"], "demo's FIP is just outside to alt"
    to_fip = json.loads(answers[2 * len(PROBES)][1])
    assert to_fip["dst"] == {"kind": "outside", "node": f"network:{lab['networks']['public']}", "ip": "<hidden>"}
    assert all("sg_no_ingress" not in body for _, body in answers), "demo's security groups are not judged for alt"


def test_an_address_both_projects_hold_is_each_ones_own(
    lab: dict[str, Any], admin_cloud: Cloud, client: Client, allinone_alt_ports: list[dict[str, Any]]
) -> None:
    cirros = lab["vms"]["cirros-01"]
    alt, demo = keystone_token(lab, "alt"), keystone_token(lab, "demo")
    status, body = ask(client, alt, OUTSIDE, cirros["ip"])
    assert status == 200 and json.loads(body)["dst"]["node"] == f"port:{allinone_alt_ports[0]['id']}"
    assert leaks(body, state_secrets(lab, admin_cloud, "demo", "alt")) == []
    status, body = ask(client, demo, OUTSIDE, cirros["ip"])
    assert status == 200 and json.loads(body)["dst"]["node"] == f"port:{cirros['port_id']}"
    assert leaks(body, state_secrets(lab, admin_cloud, "alt", "demo")) == []


def test_demo_learns_nothing_of_alt(
    lab: dict[str, Any], admin_cloud: Cloud, client: Client, allinone_alt_ports: list[dict[str, Any]]
) -> None:
    secrets = state_secrets(lab, admin_cloud, "alt", "demo")
    theirs = allinone_alt_ports[1]
    address = theirs["fixed_ips"][0]["ip_address"]
    assert theirs["id"] in secrets and address in secrets and "leak-alt" in secrets
    demo = keystone_token(lab, "demo")
    cirros = f"server:{lab['vms']['cirros-01']['server_id']}"
    answers = assert_tells_nothing(
        client,
        demo,
        secrets,
        [
            (cirros, address),  # alt's address inside demo's own CIDR
            (OUTSIDE, address),
            (cirros, f"port:{theirs['id']}"),
            (f"port:{theirs['id']}", OUTSIDE),
        ],
    )
    own_walk = json.loads(answers[0][1])
    assert own_walk["src"]["node"] == f"port:{lab['vms']['cirros-01']['port_id']}" and own_walk["hops"]


@pytest.fixture
def overlap_demo_ports(overlap_lab: dict[str, Any], admin_cloud: Cloud) -> Iterator[list[dict[str, Any]]]:
    """demo gets alt's overlapping subnet a third time (192.168.101.0/24), with an address beside the VMs'."""
    own = unheld_address(admin_cloud, "192.168.101.0/24", 4)
    with tenant_ports(lab_connection("lab-demo"), "leak-demo", "192.168.101.0/24", [own]) as ports:
        joined(overlap_lab)
        yield ports


def test_overlapping_subnets_tell_neither_project_of_the_other(
    overlap_lab: dict[str, Any], admin_cloud: Cloud, client: Client, overlap_demo_ports: list[dict[str, Any]]
) -> None:
    vms = overlap_lab["vms"]
    alt, demo = keystone_token(overlap_lab, "alt"), keystone_token(overlap_lab, "demo")
    alt_secrets = state_secrets(overlap_lab, admin_cloud, "alt", "demo")
    assert vms["vm01"]["port_id"] in alt_secrets and "router01" in alt_secrets
    address = overlap_demo_ports[0]["fixed_ips"][0]["ip_address"]
    assert vms["vm01"]["ip"] in alt_secrets, f"demo holds the same CIDR, but not that address (its port has {address})"
    own = f"port:{overlap_demo_ports[0]['id']}"
    answers = assert_tells_nothing(
        client,
        demo,
        alt_secrets,
        [
            (OUTSIDE, vms["vm01"]["floating_ip"]),
            (OUTSIDE, vms["vm01"]["ip"]),  # two alt ports hold it, none of demo's: the 404 named alt's ports
            (own, vms["vm01"]["ip"]),
            (own, vms["vm02"]["floating_ip"]),
            (vms["vm01"]["floating_ip"], vms["vm02"]["floating_ip"]),
            (OUTSIDE, f"server:{vms['vm01']['server_id']}"),
        ],
    )
    assert all(status == 404 for status, _ in answers[: 2 * len(PROBES)])

    demo_secrets = state_secrets(overlap_lab, admin_cloud, "demo", "alt")
    assert overlap_demo_ports[0]["id"] in demo_secrets and address in demo_secrets
    vm01 = f"server:{vms['vm01']['server_id']}"
    answers = assert_tells_nothing(
        client,
        alt,
        demo_secrets,
        [
            (vm01, address),  # demo's address in alt's own CIDR
            (OUTSIDE, address),
            (vm01, own),
            (OUTSIDE, vms["vm01"]["ip"]),  # alt's two ports hold it: the 404 names those, never demo's
        ],
    )
    ambiguous = json.loads(answers[-1][1])["detail"]
    assert vms["vm01"]["port_id"] in ambiguous and vms["vm02"]["port_id"] in ambiguous


def test_a_tenants_own_walk_keeps_its_own_names(
    overlap_lab: dict[str, Any], admin_cloud: Cloud, client: Client, overlap_demo_ports: list[dict[str, Any]]
) -> None:
    """Scrubbing takes other projects' words out, not the caller's: alt's own DNAT and SNAT stay named."""
    vm01 = overlap_lab["vms"]["vm01"]
    alt = keystone_token(overlap_lab, "alt")
    for src, dst, needle in (
        (OUTSIDE, vm01["floating_ip"], f"--to-destination {vm01['ip']}"),
        (f"server:{vm01['server_id']}", OUTSIDE, f"--to-source {vm01['floating_ip']}"),
    ):
        status, body = ask(client, alt, src, dst)
        result = json.loads(body)
        assert status == 200 and result["verdict"] == "ok", result
        assert any(needle in h["evidence"] for h in result["hops"]), result
        assert "<hidden>" not in body, result
