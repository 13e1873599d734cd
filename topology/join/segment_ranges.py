"""VLAN ranges with no free id (issue 15): the warning an operator needs before Neutron refuses a network.

Neutron's network_segment_range service plugin lists, admin only, each range of segmentation ids
(GET /v2.0/network-segment-ranges; ML2's ``network_vlan_ranges`` become its ``default`` ranges) with
the ids still ``available`` and the ``used`` ones (id -> the project holding it). The collector keeps
that list in the snapshot under ``network_segment_ranges`` (absent or empty without the plugin, or for
a caller who is not an admin: then nothing is said).

A physical network whose shared VLAN ranges have no available id refuses every new VLAN network of a
project that has no range of its own there. The warning goes on the VLAN networks of that physical
network (where the join's warnings show: the map's badge and details panel) and is said on the routers
page. It names the physical network, its ranges and how many ids they hold, never a network or a
project. A project member sees it only on their own networks, and without the ranges (:func:`tenant_form`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from topology import graph as g

JsonDict = dict[str, Any]
SNAPSHOT_KEY = "network_segment_ranges"
VLAN = "vlan"
MARK = "no VLAN ids free on "
REFUSED = "new VLAN networks will be refused"


@dataclass(frozen=True)
class FullPhysnet:
    """A physical network whose shared VLAN ranges have no id left."""

    physical_network: str
    ranges: tuple[tuple[int, int], ...]  # (minimum, maximum) of each shared range, in order

    @property
    def size(self) -> int:
        return sum(high - low + 1 for low, high in self.ranges)

    def message(self) -> str:
        """The admin's words: the physical network, its ranges and their size."""
        spans = ", ".join(f"{low}-{high}" for low, high in self.ranges)
        word = "range" if len(self.ranges) == 1 else "ranges"
        return f"{MARK}{self.physical_network}: VLAN {word} {spans} ({self.size} ids) all in use; {REFUSED}"


def tenant_form(warning: str) -> str:
    """A project member's words for a full-range warning (other warnings as they are): the physical
    network only, not the ranges (ML2's configuration, admin only like provider:physical_network's)."""
    if not warning.startswith(MARK) or not warning.endswith(REFUSED):
        return warning
    physnet = warning[len(MARK) :].split(":", 1)[0]
    return f"{MARK}{physnet}: {REFUSED}"


def shared_vlan_ranges(ranges: Iterable[JsonDict]) -> list[JsonDict]:
    """The VLAN ranges every project allocates from (the default ones and the shared ones)."""
    return [
        r
        for r in ranges
        if r.get("network_type") == VLAN and r.get("physical_network") and (r.get("shared") or r.get("default"))
    ]


def full_physnets(ranges: Iterable[JsonDict]) -> list[FullPhysnet]:
    """The physical networks whose shared VLAN ranges list no available id, by name."""
    by_physnet: dict[str, list[JsonDict]] = {}
    for r in shared_vlan_ranges(ranges):
        by_physnet.setdefault(str(r["physical_network"]), []).append(r)
    return [
        FullPhysnet(physnet, tuple(sorted((int(r["minimum"]), int(r["maximum"])) for r in held)))
        for physnet, held in sorted(by_physnet.items())
        if not any(r.get("available") for r in held)
    ]


def full_range_messages(cloud: Mapping[str, Any]) -> list[str]:
    """What the routers page says of the snapshot ``cloud``: one line per physical network with no VLAN id free."""
    return [full.message() for full in full_physnets(cloud.get(SNAPSHOT_KEY) or [])]


def warn_full_vlan_ranges(graph: g.Graph, cloud: Mapping[str, Any]) -> None:
    """Each VLAN network of a physical network with no id free carries the warning."""
    full = {f.physical_network: f.message() for f in full_physnets(cloud.get(SNAPSHOT_KEY) or [])}
    if not full:
        return
    for net in cloud.get("networks", []):
        message = full.get(net.get("provider:physical_network") or "")
        node_id = g.network_id(net["id"])
        if message and net.get("provider:network_type") == VLAN and node_id in graph.nodes:
            graph.warn(node_id, message)
