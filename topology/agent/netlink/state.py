"""What one namespace holds: its links (before veth peers are resolved), addresses, routes and rules."""

from __future__ import annotations

from dataclasses import dataclass, field

from topology.report import Route, Rule


@dataclass
class Link:
    """One interface as netlink reports it, before veth peers are resolved."""

    ifindex: int
    name: str
    kind: str
    mac: str | None
    mtu: int | None
    state: str | None
    admin_up: bool
    master_index: int | None
    link_index: int | None  # IFLA_LINK: a veth's peer ifindex (in the peer's namespace)
    link_nsid: int | None  # IFLA_LINK_NETNSID: where that peer lives, as an id local to this namespace


@dataclass
class NamespaceState:
    """Everything read from one namespace; ``name`` None is the root namespace."""

    name: str | None
    links: list[Link]
    addresses: dict[int, list[str]]
    routes: list[Route]
    rules: list[Rule]
    root_nsid: int | None = None  # the id this namespace gives to the root namespace
    by_index: dict[int, Link] = field(init=False)

    def __post_init__(self) -> None:
        self.by_index = {link.ifindex: link for link in self.links}
