"""The join: the cloud's logical state and the nodes' physical state in one graph.

A pure function: a cloud snapshot (Neutron API dicts, field names as Neutron
sends them) and the latest agent report of each host go in, a Graph comes out.
Keys, never MAC alone (docs/design.md "Correlation"):

- OVS Interface ``external_ids:iface-id`` -> port id;
- device names: prefix (tap, qbr, qvb, qvo, qr-, qg-, sg-, fg-, ha-) + port id, cut to
  14 characters (id[:11]);
- namespaces ``qrouter-``/``snat-`` + router id, ``fip-`` + external network id,
  ``qdhcp-`` and ``ovnmeta-`` + network id; ``rfp-``/``fpr-`` + router id[:10];
- ``vxlan-*``/``gre-*`` ``options:remote_ip`` -> the host with that tunnel IP;
- port ``binding:host_id`` -> host.

Whatever does not join is kept, with a warning on its node.

The join runs in three parts. The logical part (:func:`logical_part`) comes
from the cloud snapshot alone, and each host's physical subgraph
(:func:`host_physical`) from that host's report alone; the cross joins
(ports <-> interfaces, routers and networks <-> namespaces, tunnels between
hosts, host nodes) put them together. A :class:`JoinCache` passed to
:func:`join` keeps the parts keyed by a digest of their input, so a rebuild
after one host's report changed re-does that host and the cross joins, and
one after a cloud refresh the logical part and the cross joins; the graph is
the same as a join without a cache.

Modules, by part: :mod:`.logical` (the logical part), :mod:`.host` with
:mod:`.devices` and :mod:`.bridges` (one host's physical part), :mod:`.cross`
(host nodes, tunnels, namespaces <-> routers and networks), :mod:`.binding`
(ports <-> devices, one binder for cold and cached joins), :mod:`.cache` (the
parts' cache and the inputs' digests), :mod:`.gcpause` (the GC during a join),
:mod:`.entry` (:func:`join`). This package re-exports their public names."""

from topology.join.binding import (
    PortBinder,
    describe_iface,
    port_devices,
    warn_unbound_port,
    warn_unknown_iface_ids,
)
from topology.join.bridges import (
    OVS_DATAPATH_MASTER,
    add_linux_bridge,
    add_linux_bridges_and_links,
    add_ovs_bridges,
    add_ovs_interface,
    add_veth,
)
from topology.join.cache import InputDigests, JoinCache, digest
from topology.join.cross import (
    add_hosts,
    add_tunnels,
    bind_namespaces,
    bind_router_devices,
    bind_vm_namespace,
    host_status,
)
from topology.join.devices import (
    ROUTER_DEVICE_ROLES,
    add_iface,
    add_namespace,
    device_prefix,
    drop_iface,
    iface_status,
    namespace_role,
)
from topology.join.entry import join, join_cold, join_parts
from topology.join.gcpause import gc_paused
from topology.join.host import forget_dropped, host_physical, plain_linux_bridges
from topology.join.logical import (
    OWNER_WORDS,
    UNBOUND_OWNERS,
    LogicalPart,
    PortLookups,
    add_floatingips,
    add_logical,
    add_port,
    add_port_node,
    add_port_owner_edges,
    add_ports,
    add_routers,
    add_secgroups,
    add_server,
    agents_by_host,
    describe_port,
    devices_host,
    logical_part,
    ports_by_host,
)
from topology.join.parts import (
    CloudSnapshot,
    Described,
    Edges,
    HostIndex,
    HostPhysical,
    JsonDict,
    Nodes,
    add_link,
    drop_dangling,
)
from topology.kinds import TUNNEL_TYPES  # the join's tunnel types are OVS's, listed once there

__all__ = [
    "OVS_DATAPATH_MASTER",
    "OWNER_WORDS",
    "ROUTER_DEVICE_ROLES",
    "TUNNEL_TYPES",
    "UNBOUND_OWNERS",
    "CloudSnapshot",
    "Described",
    "Edges",
    "HostIndex",
    "HostPhysical",
    "InputDigests",
    "JoinCache",
    "JsonDict",
    "LogicalPart",
    "Nodes",
    "PortBinder",
    "PortLookups",
    "add_floatingips",
    "add_hosts",
    "add_iface",
    "add_link",
    "add_linux_bridge",
    "add_linux_bridges_and_links",
    "add_logical",
    "add_namespace",
    "add_ovs_bridges",
    "add_ovs_interface",
    "add_port",
    "add_port_node",
    "add_port_owner_edges",
    "add_ports",
    "add_routers",
    "add_secgroups",
    "add_server",
    "add_tunnels",
    "add_veth",
    "agents_by_host",
    "bind_namespaces",
    "bind_router_devices",
    "bind_vm_namespace",
    "describe_iface",
    "describe_port",
    "device_prefix",
    "devices_host",
    "digest",
    "drop_dangling",
    "drop_iface",
    "forget_dropped",
    "gc_paused",
    "host_physical",
    "host_status",
    "iface_status",
    "join",
    "join_cold",
    "join_parts",
    "logical_part",
    "namespace_role",
    "plain_linux_bridges",
    "port_devices",
    "ports_by_host",
    "warn_unbound_port",
    "warn_unknown_iface_ids",
]
