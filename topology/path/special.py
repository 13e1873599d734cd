"""Addresses that are not one end of a path through the cloud (loopback, unspecified, broadcast,
multicast, link-local), and the check of a question's arguments before any walk.

A packet to one of them never leaves the sender as a unicast to one host (loopback stays in the
sender, a broadcast or multicast goes to many or none, link-local is never routed): walking it
north-south through a router would be a wrong answer, so the question is refused, with the reason.
The metadata address 169.254.169.254 is link-local but served by the cloud (the qrouter's redirect
or the qdhcp namespace): it is not refused here. The HA network's range (169.254.192.0/18, Neutron's
default ``l3_ha_net_cidr``) is refused with its own reason: keepalived's VRRP between an HA router's
instances (topology/path/ha.py).
"""

from __future__ import annotations

import ipaddress

from topology.path.model import PathError, Probe

METADATA_ADDRESS = ipaddress.ip_address("169.254.169.254")
LIMITED_BROADCAST = ipaddress.ip_address("255.255.255.255")
# Neutron's default l3_ha_net_cidr: the HA network's subnet, where HA routers' ha- ports speak VRRP.
HA_NETWORK_CIDR = ipaddress.ip_network("169.254.192.0/18")
HA_NETWORK_REASON = (
    f"is an HA router's ha- port address on its HA network ({HA_NETWORK_CIDR}): keepalived's VRRP between the "
    "router's instances, not a destination; ask the router's own addresses (its qr- or qg-)"
)
AnyAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def special_reason(address: AnyAddress) -> str | None:
    """Why ``address`` is no end of a path through the cloud, or None for an ordinary (or metadata) address."""
    if address == METADATA_ADDRESS:
        return None
    if address.is_loopback:
        return "is a loopback address: the packet never leaves the sender's own stack"
    if address.is_unspecified:
        return "is the unspecified address: it names no host (a socket bound to any address, not a destination)"
    if address == LIMITED_BROADCAST:
        return "is the limited broadcast address: it goes to every host on the sender's segment and is never routed"
    if address in HA_NETWORK_CIDR:
        return HA_NETWORK_REASON
    if address.is_multicast:
        return "is a multicast address: it goes to the group's members, not along one path to one host"
    if address.is_link_local:
        return "is a link-local address: it is never routed, only the sender's own segment may answer it"
    return None


def refuse_special(text: str, role: str = "address") -> None:
    """Raise PathError if ``text`` is an IP address that is no end of a path (a node id is left alone)."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return
    reason = special_reason(address)
    if reason is not None:
        raise PathError(f"{role} {address} {reason}; ask about a VM, a port, a floating IP or a unicast address")


def check_arguments(src: str, dst: str, probe: str) -> None:
    """What the API refuses with 400 before any walk, for every caller: a probe that names no port,
    a special address at either end. Needs nothing of the graph, so it tells no tenant anything."""
    Probe.parse(probe)
    refuse_special(src, "source")
    refuse_special(dst, "destination")
