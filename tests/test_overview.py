"""The home page's VM rows, from ports and floating IPs as Neutron lists them (pure; the lab test is test_home.py)."""

from __future__ import annotations

from typing import Any

from dashboard.overview import vm_rows


def port(port_id: str, name: str, owner: str, device: str, ips: list[str]) -> dict[str, Any]:
    return {
        "id": port_id,
        "name": name,
        "device_owner": owner,
        "device_id": device,
        "status": "ACTIVE",
        "fixed_ips": ips,
        "network_id": "net",
    }


def test_a_vm_is_a_nova_device_with_its_ports_addresses_and_floating_ips() -> None:
    ports = [
        port("p-web-1", "web-eth0", "compute:nova", "vm-web", ["10.0.0.5"]),
        port("p-web-2", "web-eth1", "compute:az1", "vm-web", ["10.1.0.5"]),
        port("p-db", "db", "compute:nova", "vm-db", ["10.0.0.9"]),
        port("p-dhcp", "", "network:dhcp", "dhcp-x", ["10.0.0.2"]),
        port("p-rtr", "", "network:router_interface", "router-1", ["10.0.0.1"]),
        port("p-free", "spare", "", "", ["10.0.0.77"]),
    ]
    fips: list[dict[str, Any]] = [
        {
            "id": "f1",
            "floating_ip_address": "192.168.1.60",
            "fixed_ip_address": "10.1.0.5",
            "port_id": "p-web-2",
            "status": "ACTIVE",
        },
        {
            "id": "f2",
            "floating_ip_address": "192.168.1.61",
            "fixed_ip_address": None,
            "port_id": None,
            "status": "DOWN",
        },
    ]
    rows = vm_rows(ports, fips, {"vm-db": "database"})  # Nova's name wins over the port's
    assert rows == [
        {"id": "vm-db", "name": "database", "fixed_ips": ["10.0.0.9"], "floating_ips": [], "ports": ["p-db"]},
        {
            "id": "vm-web",
            "name": "web-eth0",
            "fixed_ips": ["10.0.0.5", "10.1.0.5"],
            "floating_ips": ["192.168.1.60"],
            "ports": ["p-web-1", "p-web-2"],
        },
    ]
