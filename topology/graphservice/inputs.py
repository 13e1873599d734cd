"""The writer's inputs in memory: the cloud snapshot and each host's latest report, re-read by what changed.

Loaded once from CloudSnapshot/HostReport; afterwards only the rows of the hosts
named (and the snapshot, after a cloud change) are read again. A full sync reads
every row's digest and ``received_at`` only, and the reports whose digest changed.

A host's report is kept slim once its physical part is in the join's cache: the
cross joins read only its ``collected_at``, ``tunnel_ip`` and its qrouter-
namespaces' NAT rules (topology/join/cross.py, topology/claims.py,
topology/drift.py); a part made afresh is made from the full report, read from
the database for just that host (:meth:`WriterInputs.full_reports`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from topology.join import InputDigests, JoinCache, digest
from topology.join.gcpause import gc_paused
from topology.join.shared import share_values
from topology.kinds import NamespacePrefix
from topology.models import CloudSnapshot, HostReport

JsonDict = dict[str, Any]


def slim_report(report: JsonDict) -> JsonDict:
    """What the cross joins read of a report whose physical part is already made."""
    namespaces = [
        {"name": ns.get("name"), "iptables": {"nat": (ns.get("iptables") or {}).get("nat") or ""}}
        for ns in report.get("namespaces") or []
        if str(ns.get("name") or "").startswith(NamespacePrefix.QROUTER)
    ]
    slim: JsonDict = {"collected_at": report.get("collected_at"), "namespaces": namespaces}
    if "tunnel_ip" in report:
        slim["tunnel_ip"] = report["tunnel_ip"]
    return slim


def report_key(row_digest: str, report: JsonDict | None) -> bytes | None:
    """The join's key of a report: the stored digest, else made now (None: not encodable)."""
    if row_digest:
        return bytes.fromhex(row_digest)
    return digest(report) if report is not None else None


@dataclass
class WriterInputs:
    """The cloud snapshot and the hosts' reports (slim where their part is cached), with their keys."""

    cloud: JsonDict = field(default_factory=dict)
    cloud_row: tuple[int, str] | None = None  # (id, digest) of the snapshot held
    cloud_key: bytes | None = None
    reports: dict[str, JsonDict] = field(default_factory=dict)
    keys: dict[str, bytes] = field(default_factory=dict)  # host -> report digest (absent: not encodable)
    stored: dict[str, str] = field(default_factory=dict)  # host -> digest as stored ("" unknown)
    received: dict[str, datetime] = field(default_factory=dict)
    full: set[str] = field(default_factory=set)  # hosts whose report is held in full
    rows_read: int = 0  # report rows read in full by the last sync

    def digests(self) -> InputDigests:
        return InputDigests(cloud=self.cloud_key, reports=self.keys)

    # ------------------------------------------------------------------ reading

    def sync_cloud(self, force: bool = False) -> bool:
        """Read the snapshot again if it is another one (or ``force``); whether it changed."""
        row = CloudSnapshot.objects.order_by("-id").values_list("id", "digest").first()
        if row is None:
            changed = self.cloud_row is not None or bool(self.cloud)
            self.cloud, self.cloud_row, self.cloud_key = {}, None, None
            return changed
        if not force and row == self.cloud_row and row[1]:
            return False
        data = CloudSnapshot.objects.filter(id=row[0]).values_list("data", flat=True).first() or {}
        share_values(data)  # 200,000 ports' repeated ids and states: one object each (join/shared.py)
        self.cloud, self.cloud_row = data, (row[0], row[1])
        self.cloud_key = bytes.fromhex(row[1]) if row[1] else digest(data)
        return True

    def sync_all_hosts(self, cache: JoinCache | None = None) -> list[str]:
        """Every host's row by digest: the reports that changed are read; returns the hosts that changed.

        ``cache``: each report read has its part made at once and is kept slim (:meth:`read_hosts`)."""
        rows = {host: (dig, at) for host, dig, at in HostReport.objects.values_list("host", "digest", "received_at")}
        gone = [host for host in self.reports if host not in rows]
        for host in gone:
            self.forget(host)
        self.received = {host: at for host, (_, at) in rows.items()}
        stale = [host for host, (dig, _) in rows.items() if not dig or self.stored.get(host) != dig]
        self.read_hosts(stale, cache)
        return sorted(gone + stale)

    def sync_hosts(self, hosts: Collection[str]) -> None:
        """The rows of ``hosts`` read again (a host without a row no longer reports)."""
        found = self.read_hosts(hosts)
        for host in set(hosts) - found:
            self.forget(host)

    def read_hosts(self, hosts: Iterable[str], cache: JoinCache | None = None) -> set[str]:
        """Read these hosts' rows in full; the hosts found. With a ``cache``, each report's part is made
        as it is read (``JoinCache.prepare``) and the report kept slim: a start never holds every
        report whole at once (10,000 reports of ~0.2 MB parse to several GB)."""
        found: set[str] = set()
        names = list(hosts)
        with gc_paused():
            for start in range(0, len(names), 200):  # SQLite's variable limit
                rows = HostReport.objects.filter(host__in=names[start : start + 200])
                for host, dig, at, report in rows.values_list("host", "digest", "received_at", "report").iterator():
                    self.hold(host, dig, at, report)
                    found.add(host)
                    if cache is not None:
                        cache.prepare(host, report, self.keys.get(host))
                        self.slim_host(cache, host)
        return found

    def hold(self, host: str, row_digest: str, received_at: datetime, report: JsonDict) -> None:
        key = report_key(row_digest, report)
        self.reports[host], self.stored[host], self.received[host] = report, row_digest, received_at
        if key is None:
            self.keys.pop(host, None)
        else:
            self.keys[host] = key
        self.full.add(host)
        self.rows_read += 1

    def forget(self, host: str) -> None:
        for held in (self.reports, self.keys, self.stored, self.received):
            held.pop(host, None)
        self.full.discard(host)

    # ------------------------------------------------------------------ around the join

    def full_reports(self, cache: JoinCache) -> None:
        """Read in full the slim reports whose part the cache cannot give (it was reset, or forgot it)."""
        missing = [host for host in self.reports if host not in self.full and not cached(cache, host, self.keys)]
        self.read_hosts(missing, cache)

    def slim(self, cache: JoinCache) -> None:
        """The full reports whose part the cache now holds, kept slim."""
        for host in list(self.full):
            self.slim_host(cache, host)

    def slim_host(self, cache: JoinCache, host: str) -> None:
        if host in self.full and cached(cache, host, self.keys):
            self.reports[host] = slim_report(self.reports[host])
            self.full.discard(host)


def cached(cache: JoinCache, host: str, keys: dict[str, bytes]) -> bool:
    """Whether the join takes the host's part from the cache (or its failure) without reading its report."""
    key = keys.get(host)
    if key is None:
        return False
    part = cache.hosts.get(host)
    if part is not None and part[0] == key:  # the common case first: every apply asks it of every host
        return True
    made, failed = cache.made.get(host), cache.failed.get(host)
    return (made is not None and made[0] == key) or (failed is not None and failed[0] == key)
