"""What a backend's walk is given: the ends of a routed path, found before the backend is chosen."""

from __future__ import annotations

from dataclasses import dataclass

from topology.path.family import family_subnets_first
from topology.path.topo import Topo, router_label, router_port_on, routers_of_subnet


@dataclass(frozen=True)
class EastWest:
    """A routed path between two tenant subnets of one router."""

    router: str
    name: str
    src_subnet: str
    dst_subnet: str
    dst_host: str | None

    @classmethod
    def of(cls, topo: Topo, source_port: str, target_port: str, router: str, family: int = 4) -> EastWest:
        """The router's subnets on both ports, of the packet's ``family`` first (a dual-stack port's IPv6
        packet enters on the qr- of its IPv6 subnet)."""
        src_subnet = next(
            s for s in family_subnets_first(topo, source_port, family) if router in routers_of_subnet(topo, s)
        )
        dst_subnet = next(
            s for s in family_subnets_first(topo, target_port, family) if router in routers_of_subnet(topo, s)
        )
        return cls(
            router,
            router_label(topo, router),
            src_subnet,
            dst_subnet,
            topo.attrs(target_port).get("binding_host_id") or None,
        )


@dataclass(frozen=True)
class Leaving:
    """A VM's packet on its way out through its router's gateway (SNAT or its floating IP)."""

    port: str
    ip: str
    host: str | None  # where the VM is bound (None: unbound)
    router: str
    subnet: str | None
    external: str
    fip_address: str | None

    def router_port(self, topo: Topo) -> str | None:
        return router_port_on(topo, self.router, self.subnet or "")


@dataclass(frozen=True)
class Arriving:
    """A packet from the outside to a floating IP, and the VM port it is DNATed to."""

    port: str
    router: str
    subnet: str | None
    external: str
    address: str | None
    fixed: str
    vm_host: str | None
    src_ip: str | None

    def router_port(self, topo: Topo) -> str | None:
        return router_port_on(topo, self.router, self.subnet or "")
