"""The packet-path explainer (pure): where a packet really goes, hop by hop, and what breaks it.

It walks the joined graph the way seed 001's DVR guide and seed 000's
all-in-one walk a packet: from the source port's tap through qbr, qvb/qvo
and br-int (local VLAN tag), over br-tun and a VXLAN tunnel (VNI) when the
next device is on another host, into the router's namespace (legacy
qrouter; DVR qrouter on the local host, snat on the SNAT host, fip with its
rfp/fpr pair and fg port) and out through qg/fg, br-int's patch to br-ex and
br-ex's port to the outside. Each hop carries what happens there, evidence
from the live state (tags, VNIs, iptables rules with counters, flows) and a
status; what the state does not support turns the verdict "broken" with a
problem code and a sentence naming what to fix.

Input: the graph (topology.join), the hosts' latest agent reports (for
iptables-save and dump-flows text), and the two endpoints.

Modules, by concept:

- ``model``: the result model (Problem, Scenario, PathError, Hop, Probe, Endpoint);
- ``topo``: the indexed graph (Topo) and its logical lookups;
- ``special``: addresses that are no end of a path (loopback, broadcast, ...), the API's argument check;
- ``resolve``: endpoint resolution (an id or an address -> a port, a floating IP, the outside);
- ``walk``: the walk and its primitives (device, VLAN, bridge and tunnel hops, port and agent checks);
- ``instance``, ``secgroups``: the VM's legs to and from br-int, and its security groups;
- ``router``, ``external``, ``fipns``: the legs through a router, br-ex and the DVR fip namespace;
- ``context``: what a backend's walk is given;
- ``legacy``, ``dvr``: one module per backend's walks (ML2/OVS with legacy routers, with DVR);
- ``route``: the situation of two ends and the table of walks it picks from;
- ``verdict``: stale hosts, dead agents, the verdict;
- ``redact``: tenant redaction (topology.path_scope scopes a tenant's question);
- ``explain``: the entry points.
"""

from __future__ import annotations

from topology.path.explain import explain, explain_endpoints, explain_in
from topology.path.model import Endpoint, Hop, JsonDict, PathError, Probe, Problem, Scenario, ScenarioText, Status
from topology.path.redact import redact_hops, redact_path
from topology.path.resolve import as_source, external_network_for, resolve, resolve_ip
from topology.path.route import route
from topology.path.special import check_arguments, special_reason
from topology.path.topo import Topo, port_ips
from topology.path.verdict import finish, verdict, worst
from topology.path.walk import Walk

__all__ = [
    "Endpoint",
    "Hop",
    "JsonDict",
    "PathError",
    "Probe",
    "Problem",
    "Scenario",
    "ScenarioText",
    "Status",
    "Topo",
    "Walk",
    "as_source",
    "check_arguments",
    "explain",
    "explain_endpoints",
    "explain_in",
    "external_network_for",
    "finish",
    "port_ips",
    "redact_hops",
    "redact_path",
    "resolve",
    "resolve_ip",
    "route",
    "special_reason",
    "verdict",
    "worst",
]
