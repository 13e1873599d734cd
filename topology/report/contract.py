"""The report's shapes (contract version 1) as TypedDicts, with its version and size bounds."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Final, Optional, TypedDict

# The node agent runs on Python 3.9 (typing.NotRequired is 3.11's). The class-based shapes
# below keep their annotations as strings (PEP 563), so at run time on 3.9 the name is never
# looked up; type checkers targeting 3.9 take it from typing_extensions.
if sys.version_info >= (3, 11):
    from typing import NotRequired
elif TYPE_CHECKING:
    from typing_extensions import NotRequired

REPORT_VERSION: Final = 1  # what this release's agent sends

# What this release's dashboard accepts: its own version and, from version 2 on, the one
# before it, so that the previous release's agents keep reporting while the dashboard is
# upgraded first (README "Deploying": dashboard first, then the agents). A newer version
# gets a 400 naming the versions it would take; the agent logs it and keeps asking, more
# and more rarely (topology/agent/delivery.py RejectedHold).
ACCEPTED_VERSIONS: Final = (1,)

# A host with 1,000 router namespaces, each carrying a few KiB of
# iptables-save text, plus br-int/br-tun flow tables of tens of thousands of
# lines comes to roughly 10-15 MiB of JSON (see docs/benchmarks.md); 32 MiB
# leaves room for twice that while still bounding what one POST may cost.
MAX_REPORT_BYTES: Final = 32 * 1024 * 1024

# Stop listing reasons after this many: a report broken in every namespace
# would otherwise produce a 400 body as big as the report itself.
MAX_REASONS: Final = 50

MAX_NAME_LENGTH: Final = 255


class Interface(TypedDict):
    name: str
    kind: str  # veth|tap|bridge|ovs-internal|vxlan|physical|loopback|<kernel kind>
    mac: str | None
    mtu: int | None
    state: str | None  # operstate as `ip link` prints it: UP, DOWN, UNKNOWN, LOWERLAYERDOWN...
    addresses: list[str]  # CIDR, e.g. "10.0.0.1/24", IPv4 and IPv6
    master: str | None  # Linux bridge (qbr...) or bond the interface is enslaved to
    peer: str | None  # veth peer's name
    peer_netns: str | None  # namespace of the veth peer; null when the peer is in the root namespace or the same one
    ifindex: NotRequired[int]
    admin_up: NotRequired[bool]
    # a veth whose peer is in a namespace the host does not name (another host's, a container's): the peer's
    # ifindex there (the lab's two br-ex are joined by such a wire: lab-ex1/lab-ex2)
    peer_ifindex: NotRequired[int]


class Route(TypedDict):
    dst: str  # CIDR; "0.0.0.0/0" / "::/0" for the default route
    gateway: str | None
    dev: str | None
    table: int  # 254 = main; DVR uses e.g. 16 and <n> for `from <subnet> lookup <n>`
    src: str | None  # preferred source (RTA_PREFSRC)
    family: NotRequired[int]  # 4 or 6
    type: NotRequired[str]  # unicast, blackhole, unreachable, prohibit, ...
    scope: NotRequired[str]
    proto: NotRequired[str]
    metric: NotRequired[int | None]
    nexthops: NotRequired[list[dict[str, str | None]]]  # multipath: [{"gateway", "dev"}]


# "from" is a Python keyword: the required keys are declared functionally (evaluated at run
# time, hence Optional rather than `X | None` on Python 3.9), the optional ones in a subclass.
_RuleKeys = TypedDict(
    "_RuleKeys",
    {
        "priority": int,
        "from": Optional[str],  # CIDR, null = all
        "to": Optional[str],  # CIDR, null = all
        "table": int,
        "iif": Optional[str],
        "oif": Optional[str],
    },
)


class Rule(_RuleKeys):
    action: NotRequired[str]  # lookup, blackhole, unreachable, prohibit, goto, nop
    family: NotRequired[int]
    fwmark: NotRequired[int | None]
    fwmask: NotRequired[int | None]


class Iptables(TypedDict):
    nat: str  # `iptables-save -c` text of the table: "*nat" ... "COMMIT", with [packets:bytes] counters
    filter: str
    mangle: NotRequired[str]  # present when the namespace has the table (DVR marks, metadata)
    raw: NotRequired[str]


class Process(TypedDict):
    pid: int
    name: str  # /proc/<pid>/comm: haproxy, dnsmasq, keepalived, ...
    argv: list[str]  # its command line (capped: 64 arguments of 512 characters)


class Namespace(TypedDict):
    name: str
    interfaces: list[Interface]
    routes: list[Route]
    rules: list[Rule]
    iptables: Iptables
    # Optional (agents from this version on): the processes running in the namespace, as
    # `ip netns pids` finds them (the metadata proxy, dnsmasq); absent = not known, [] = none.
    processes: NotRequired[list[Process]]
    # Optional (agents from issue 19 on): `ip6tables-save -c` text, as `iptables`; absent when the node has
    # no ip6tables-save (the report's collection.ip6tables says so) or an older agent sent it.
    ip6tables: NotRequired[Iptables]


class OvsInterface(TypedDict):
    name: str
    type: str  # "" (system), internal, patch, vxlan, gre, geneve, ...
    options: dict[str, str]
    external_ids: dict[str, str]  # iface-id, attached-mac, iface-status, vm-uuid
    ofport: int | None


class OvsPort(TypedDict):
    name: str
    tag: int | None  # local VLAN of the network on br-int
    interfaces: list[OvsInterface]


class OvsBridge(TypedDict):
    name: str
    datapath_type: str
    fail_mode: str | None
    ports: list[OvsPort]


class Ovs(TypedDict):
    bridges: list[OvsBridge]
    flows: dict[str, list[str]]  # bridge name -> `ovs-ofctl dump-flows` lines, n_packets included


class Report(TypedDict):
    version: int
    host: str
    collected_at: str  # ISO 8601 with a zone, "2026-11-21T09:00:00.123Z"
    tunnel_ip: str | None
    namespaces: list[Namespace]
    interfaces: list[Interface]  # the root namespace's
    ovs: Ovs
    routes: NotRequired[list[Route]]  # the root namespace's
    rules: NotRequired[list[Rule]]
    iptables: NotRequired[Iptables]  # the root namespace's (iptables_hybrid security groups live there)
    ip6tables: NotRequired[Iptables]  # the root namespace's IPv6 rules (optional, as namespaces[].ip6tables)
    errors: NotRequired[list[str]]  # what the agent could not collect (OVS down, a flow dump failed...)
