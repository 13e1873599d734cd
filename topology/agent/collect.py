"""One full agent report (docs/design.md "Agent report (contract, version 1)").

Order of work, chosen for the 1,000-namespace budget: the flow dumps are
spawned first and run while the agent walks the namespaces; each namespace
is entered once (setns) to create its netlink socket, probe its netfilter
and learn the id it gives the root namespace, then read from outside;
iptables-save runs only where the probe says it can tell something.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from topology.agent import iptables, netlink, ovn_chassis
from topology.agent.flows import FlowDumps
from topology.agent.netlink import NamespaceGone, NamespaceState
from topology.agent.ovs import DEFAULT_REMOTE, OvsdbReader, OvsSnapshot, OvsUnavailable, internal_interfaces, tunnel_ip
from topology.agent.processes import namespace_processes
from topology.report import REPORT_VERSION, Interface, Iptables, Namespace, Report

DEFAULT_NETNS_DIR = Path("/run/netns")


def utc_now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def list_namespaces(netns_dir: Path) -> list[str]:
    """Names under /run/netns, as `ip netns list` shows them."""
    try:
        return sorted(entry.name for entry in os.scandir(netns_dir) if not entry.name.startswith("."))
    except FileNotFoundError:  # no namespace was ever created on this node
        return []


@dataclass
class _Walk:
    """What one collection gathered before it is shaped into the report."""

    root: NamespaceState
    namespaces: list[NamespaceState] = field(default_factory=list)
    root_nsids: dict[int, str] = field(default_factory=dict)
    inodes: set[int] = field(default_factory=set)
    inode_names: dict[int, str] = field(default_factory=dict)  # nsfs inode -> namespace name
    skipped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Collector:
    """Builds reports; keeps what is worth keeping between them (OVSDB replica, iptables cache)."""

    def __init__(
        self,
        host: str,
        *,
        netns_dir: Path = DEFAULT_NETNS_DIR,
        ovsdb: str | None = DEFAULT_REMOTE,
        tunnel_ip: str | None = None,
    ) -> None:
        self.host = host
        self.netns_dir = netns_dir
        self.tunnel_ip_override = tunnel_ip
        self.ovs = OvsdbReader(ovsdb) if ovsdb else None
        self.iptables = iptables.IptablesCollector()
        # IPv6 rules where ip6tables-save is installed; without it the report says so (collection.ip6tables).
        self.ip6tables = iptables.IptablesCollector(family=6) if shutil.which(iptables.IP6TABLES_SAVE[0]) else None
        self.root_fd = netlink.current_namespace_fd()

    def close(self) -> None:
        if self.ovs is not None:
            self.ovs.stop()
        os.close(self.root_fd)

    def collect(self, *, fresh: bool = True) -> Report:
        """A full report. ``fresh=False`` lets unchanged namespaces reuse cached iptables text."""
        started = time.monotonic()
        collected_at = utc_now_iso()
        errors: list[str] = []
        snapshot = self._ovs_snapshot(errors)
        flow_dumps = FlowDumps(
            {bridge["name"]: bridge.get("protocols", []) for bridge in snapshot.bridges}  # type: ignore[misc]
            if snapshot
            else {}
        )
        self.iptables.begin()
        if self.ip6tables is not None:
            self.ip6tables.begin()
        walk = self._walk(fresh)
        errors += walk.errors
        tables = self.iptables.finish()
        errors += self.iptables.errors
        self.iptables.forget_except(walk.inodes)
        tables6 = self._finish_ip6tables(walk, errors)
        flows = flow_dumps.finish()
        errors += flows.errors
        report = self._shape(walk, snapshot, tables, collected_at)
        add_ip6tables(report, tables6)
        report["ovs"]["flows"] = flows.flows
        report["errors"] = errors
        extra: dict[str, Any] = report  # type: ignore[assignment]
        ovn = ovn_chassis.ovn_section(snapshot.external_ids) if snapshot else None
        if ovn is not None:  # an OVN chassis: what only it knows (topology/agent/ovn_chassis.py)
            extra["ovn"] = ovn
        extra["collection"] = {
            "duration_ms": round((time.monotonic() - started) * 1000),
            "iptables_save_runs": self.iptables.spawned,
            "namespaces_skipped": walk.skipped,
            "ip6tables": "collected" if self.ip6tables is not None else "absent: ip6tables-save is not installed",
        }
        return report

    def _finish_ip6tables(self, walk: _Walk, errors: list[str]) -> dict[str, Iptables] | None:
        if self.ip6tables is None:
            return None
        tables = self.ip6tables.finish()
        errors += self.ip6tables.errors
        self.ip6tables.forget_except(walk.inodes)
        return tables

    def _ovs_snapshot(self, errors: list[str]) -> OvsSnapshot | None:
        if self.ovs is None:
            return None
        try:
            self.ovs.start()
            return self.ovs.snapshot()
        except OvsUnavailable as exc:
            errors.append(str(exc))
            return None

    # -- namespaces --------------------------------------------------------

    def _walk(self, fresh: bool) -> _Walk:
        with netlink.rtnl_socket() as root_sock:
            walk = _Walk(root=netlink.read_namespace(root_sock, None))
            root_inode = netlink.namespace_inode(self.root_fd)
            walk.inodes.add(root_inode)  # so that forget_except() keeps the root's cached text
            self._plan_iptables("-", self.root_fd, iptables.probe(), fresh, root_inode)
            for name in list_namespaces(self.netns_dir):
                try:
                    self._visit(name, root_sock, walk, fresh)
                except NamespaceGone:
                    walk.skipped.append(name)
                except OSError as exc:
                    if netlink.is_missing(exc):
                        walk.skipped.append(name)
                    else:
                        walk.errors.append(f"netns {name}: {exc}")
        return walk

    def _visit(self, name: str, root_sock: Any, walk: _Walk, fresh: bool) -> None:
        fd = netlink.open_namespace(self.netns_dir, name)
        try:
            with netlink.entered(fd, self.root_fd):
                sock = netlink.rtnl_socket()
                found = iptables.probe()
            with sock:
                state = netlink.read_namespace(sock, name)
                # After the link dump: dumping a veth whose peer is in the
                # root is what makes the kernel assign the root an id here.
                state.root_nsid = netlink.query_nsid(sock, self.root_fd)
            nsid = netlink.query_nsid(root_sock, fd)
            if nsid is not None:
                walk.root_nsids[nsid] = name
            inode = netlink.namespace_inode(fd)
            walk.inodes.add(inode)
            walk.inode_names[inode] = name
            self._plan_iptables(name, fd, found, fresh, inode)
            walk.namespaces.append(state)
        finally:
            os.close(fd)

    def _plan_iptables(self, key: str, fd: int, found: iptables.Probe, fresh: bool, inode: int | None = None) -> None:
        if inode is None:
            inode = netlink.namespace_inode(fd)
        for collector in (self.iptables, self.ip6tables):
            if collector is not None and collector.plan(key, inode, found, fresh):
                collector.start(key, fd, self.root_fd)

    def _verify_peer_namespace(self, namespace: str, nsid: int, candidate: str) -> bool:
        """Does ``nsid`` inside ``namespace`` designate ``candidate``? (only asked when ifindexes are ambiguous)"""
        try:
            fd = netlink.open_namespace(self.netns_dir, namespace)
        except NamespaceGone:
            return False
        try:
            target = netlink.open_namespace(self.netns_dir, candidate)
        except NamespaceGone:
            os.close(fd)
            return False
        try:
            with netlink.entered(fd, self.root_fd):
                sock = netlink.rtnl_socket()
            with sock:
                return netlink.query_nsid(sock, target) == nsid
        except (NamespaceGone, OSError):
            return False
        finally:
            os.close(fd)
            os.close(target)

    # -- shaping -----------------------------------------------------------

    def _shape(
        self, walk: _Walk, snapshot: OvsSnapshot | None, tables: dict[str, Iptables], collected_at: str
    ) -> Report:
        peers = netlink.resolve_veth_peers(walk.root, walk.namespaces, walk.root_nsids, self._verify_peer_namespace)
        ovs_internal = internal_interfaces(snapshot.bridges) if snapshot else set()
        processes = namespace_processes(walk.inode_names)
        namespaces: list[Namespace] = [
            {
                "name": state.name,
                "interfaces": _refine(netlink.interfaces(state, peers), ovs_internal),
                "routes": state.routes,
                "rules": state.rules,
                "iptables": tables.get(state.name, iptables.empty()),
                "processes": processes.get(state.name, []),
            }
            for state in walk.namespaces
            if state.name is not None
        ]
        return {
            "version": REPORT_VERSION,
            "host": self.host,
            "collected_at": collected_at,
            "tunnel_ip": tunnel_ip(self.tunnel_ip_override, snapshot),
            "namespaces": namespaces,
            "interfaces": _refine(netlink.interfaces(walk.root, peers), ovs_internal),
            "routes": walk.root.routes,
            "rules": walk.root.rules,
            "iptables": tables.get("-", iptables.empty()),
            "ovs": {"bridges": snapshot.bridges if snapshot else [], "flows": {}},
        }


def add_ip6tables(report: Report, tables6: dict[str, Iptables] | None) -> None:
    """Each namespace's (and the root's) ip6tables-save text; nothing when ip6tables-save is absent."""
    if tables6 is None:
        return
    for ns in report["namespaces"]:
        ns["ip6tables"] = tables6.get(ns["name"], iptables.empty())
    report["ip6tables"] = tables6.get("-", iptables.empty())


def _refine(interfaces: list[Interface], ovs_internal: set[str]) -> list[Interface]:
    # With datapath_type=netdev OVS creates internal ports (br-int, qr-/qg-
    # without ovs_use_veth) as tap devices: OVSDB says what they really are.
    for iface in interfaces:
        if iface["name"] in ovs_internal and iface["kind"] in ("tap", "tun", "ovs-internal"):
            iface["kind"] = "ovs-internal"
    return interfaces


def collect_report(
    host: str,
    *,
    netns_dir: Path = DEFAULT_NETNS_DIR,
    ovsdb: str | None = DEFAULT_REMOTE,
    tunnel_ip: str | None = None,
) -> Report:
    """One report, from scratch (``ovsdb=None`` skips OVS)."""
    collector = Collector(host, netns_dir=netns_dir, ovsdb=ovsdb, tunnel_ip=tunnel_ip)
    try:
        return collector.collect()
    finally:
        collector.close()
