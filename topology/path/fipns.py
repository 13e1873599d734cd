"""The DVR fip namespace's legs: the rfp-/fpr- pair to a qrouter and the fg- port to the outside."""

from __future__ import annotations

from collections.abc import Callable

from topology import graph as g
from topology.kinds import DeviceOwner, EdgeKind, NamespacePrefix
from topology.path.external import external_out
from topology.path.model import Hop, Problem
from topology.path.router import enter_router, leave_router, split_devices
from topology.path.topo import Topo, namespace_on
from topology.path.walk import Walk


def rfp_fpr(topo: Topo, router: str, host: str | None) -> tuple[str | None, str | None]:
    rfp = fpr = None
    for node_id in topo.targets(router, EdgeKind.BINDS):
        node = topo.nodes[node_id]
        if node.get("host") == host and node["attrs"].get("role") == "rfp":
            rfp = node_id
        elif node.get("host") == host and node["attrs"].get("role") == "fpr":
            fpr = node_id
    return rfp, fpr


def fip_gateway_port(topo: Topo, host: str | None, external: str) -> str | None:
    for port in topo.sources(external, EdgeKind.ON_NETWORK):
        attrs = topo.attrs(port)
        if attrs.get("device_owner") == DeviceOwner.FIP_AGENT_GATEWAY and attrs.get("binding_host_id") == host:
            return port
    return None


def fg_leg(
    walk: Walk, host: str | None, external: str, what: str, out: bool, check: Callable[[Hop], bool] | None = None
) -> bool:
    """The fip namespace and its fg- port: out (after fpr-) the namespace then fg-, in fg- then the namespace
    (each hop's devices in the order the packet crosses them: the tracers take a namespace's way in and out
    from the hops beside it). ``check``, on the way out: the namespace's own say (False: it goes no further).
    True when the packet got through (out of fg-, or into the namespace)."""
    topo = walk.topo
    fg = fip_gateway_port(topo, host, external)
    namespace = namespace_on(topo, external, NamespacePrefix.FIP, host)
    if not out and namespace is not None and fg is not None and split_devices(topo, fg, host)[1] is not None:
        enter_router(walk, "", fg, host, what)
        ns_hop = walk.hop(namespace, f"fip namespace on {host}", host=host)
        if host is not None:
            walk.check_agent(host, "L3 agent", ns_hop)
        return True
    ns_hop = walk.hop(namespace, f"fip namespace on {host}", host=host)
    if host is not None:
        walk.check_agent(host, "L3 agent", ns_hop)
    if namespace is None:
        walk.fail(
            ns_hop,
            Problem.NAMESPACE_MISSING,
            f"fip-{g.id_key(external)} is missing on {host}: the DVR L3 "
            "agent there makes it when a router with a gateway has ports on the host",
        )
    if fg is None:
        walk.fail(
            ns_hop,
            Problem.NO_FG_PORT,
            f"no fg- port on {host}: the floating IP agent gateway port is missing (L3 agent in dvr mode alive?)",
        )
        return False
    if split_devices(topo, fg, host)[1] is None:
        walk.fail(
            ns_hop,
            Problem.NO_FG_PORT,
            f"no {g.device_name('fg-', fg)} in the fip namespace on {host}: the "
            "L3 agent has not plugged the floating IP agent gateway port (L3 agent in dvr mode alive?)",
        )
        return False
    if check is not None and namespace is not None and not check(ns_hop):
        return False
    if out:
        leave_router(walk, fg, host, what)
        external_out(walk, host, external)
    else:
        enter_router(walk, "", fg, host, what)
    return True


def rfp_fpr_out(walk: Walk, router: str, host: str | None) -> None:
    """From the distributed router's qrouter to the fip namespace over the rfp-/fpr- veth pair."""
    rfp, fpr = rfp_fpr(walk.topo, router, host)
    walk.device_hop(rfp, g.device_name("rfp-", router), host, "leaves qrouter on rfp- (veth to the fip namespace)")
    walk.device_hop(fpr, g.device_name("fpr-", router), host, "enters the fip namespace on fpr-")
