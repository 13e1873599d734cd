"""The lab cloud is real: Keystone tokens, Neutron's view of the scenario, pings."""

from __future__ import annotations

from typing import Any

import openstack.connection
import pytest
from keystoneauth1 import exceptions as ksa_exceptions
from keystoneauth1 import session as ksa_session
from keystoneauth1.identity import v3

pytestmark = pytest.mark.lab

KEYSTONE = "http://127.0.0.1:5000/v3"


def password_auth(user: str, password: str, **scope: Any) -> v3.Password:
    return v3.Password(
        auth_url=KEYSTONE,
        username=user,
        password=password,
        user_domain_name="Default",
        project_domain_name="Default",
        **scope,
    )


def cloud_auth(lab: dict[str, Any], cloud: str) -> dict[str, str]:
    import yaml

    with open(lab["clouds_yaml"]) as fh:
        return dict(yaml.safe_load(fh)["clouds"][cloud]["auth"])


@pytest.mark.parametrize("user", ["demo", "alt"])
def test_keystone_issues_project_tokens(lab: dict[str, Any], user: str) -> None:
    auth = cloud_auth(lab, f"lab-{user}")
    sess = ksa_session.Session(auth=password_auth(user, auth["password"], project_name=user))
    assert sess.get_token()
    assert sess.auth is not None
    access = sess.auth.get_access(sess)  # type: ignore[attr-defined]
    assert access.project_name == user
    assert "member" in access.role_names
    assert str(sess.get_endpoint(service_type="network", interface="public")).startswith("http://127.0.0.1:9696")


def test_keystone_refuses_alt_a_token_for_demo(lab: dict[str, Any]) -> None:
    auth = cloud_auth(lab, "lab-alt")
    sess = ksa_session.Session(auth=password_auth("alt", auth["password"], project_name="demo"))
    with pytest.raises(ksa_exceptions.Unauthorized):
        sess.get_token()


def test_neutron_has_the_allinone_scenario(lab: dict[str, Any], admin_cloud: openstack.connection.Connection) -> None:
    net = admin_cloud.network
    public = net.find_network("public", ignore_missing=False)
    assert public.is_router_external
    assert public.provider_network_type == "flat"
    (public_subnet,) = list(net.subnets(network_id=public.id))
    assert public_subnet.cidr == "192.168.1.0/24"
    assert public_subnet.gateway_ip == "192.168.1.1"
    assert not public_subnet.is_dhcp_enabled
    assert [(p["start"], p["end"]) for p in public_subnet.allocation_pools] == [("192.168.1.50", "192.168.1.150")]

    private = net.find_network("private", ignore_missing=False)
    (private_subnet,) = list(net.subnets(network_id=private.id))
    assert private_subnet.cidr == "10.0.0.0/24"

    router = net.find_router("router1", ignore_missing=False)
    assert router.external_gateway_info["network_id"] == public.id
    interfaces = list(net.ports(device_id=router.id, device_owner="network:router_interface"))
    assert [ip["subnet_id"] for p in interfaces for ip in p.fixed_ips] == [private_subnet.id]

    vm_ports = {p.device_id: p for p in net.ports(network_id=private.id, device_owner="compute:nova")}
    assert len(vm_ports) == 2
    for port in vm_ports.values():
        assert port.status == "ACTIVE"
        assert port.binding_host_id == lab["host"]

    (fip,) = list(net.ips(port_id=lab["vms"]["cirros-01"]["port_id"]))
    assert fip.floating_network_id == public.id
    assert fip.fixed_ip_address == lab["vms"]["cirros-01"]["ip"]

    agents = list(net.agents())
    kinds = {a.agent_type for a in agents if a.is_alive}
    assert {"Open vSwitch agent", "L3 agent", "DHCP agent"} <= kinds


def test_the_demo_security_group_is_open_for_icmp_and_ssh(demo_cloud: openstack.connection.Connection) -> None:
    group = demo_cloud.network.find_security_group("default", ignore_missing=False)
    ingress = {
        (r.protocol, r.port_range_min)
        for r in demo_cloud.network.security_group_rules(security_group_id=group.id, direction="ingress")
        if r.remote_ip_prefix in (None, "0.0.0.0/0") and r.remote_group_id is None
    }
    assert ("icmp", None) in ingress
    assert ("tcp", 22) in ingress


def test_alt_sees_nothing_of_demo(lab: dict[str, Any], alt_cloud: openstack.connection.Connection) -> None:
    names = {n.name for n in alt_cloud.network.networks()}
    assert "private" not in names
    assert alt_cloud.network.find_router("router1") is None
    assert list(alt_cloud.network.ips()) == []


def test_vms_got_their_addresses_from_dhcp(lab: dict[str, Any]) -> None:
    from lab import netns

    for name, vm in lab["vms"].items():
        out = netns.execute(vm["namespace"], "ip", "-4", "-o", "addr", "show", "dev", "eth0").stdout
        assert f"inet {vm['ip']}/24" in out
        assert "dynamic" in out, f"{name}'s address was not leased by DHCP: {out}"


def test_cirros_pings_the_outside_gateway(lab: dict[str, Any]) -> None:
    from lab import api

    assert api.ping("cirros-01", "192.168.1.1", timeout=90)


def test_the_outside_host_pings_the_floating_ip(lab: dict[str, Any]) -> None:
    from lab import api

    assert api.ping("outside", lab["vms"]["cirros-01"]["floating_ip"], timeout=90)


def test_ubuntu_without_fip_reaches_outside_through_snat(lab: dict[str, Any]) -> None:
    from lab import api

    assert api.ping("ubuntu-01", "192.168.1.1", timeout=90)
