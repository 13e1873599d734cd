"""The cache of the join's parts and the digests of their inputs (JoinCache, InputDigests, digest)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import orjson

from topology import quarantine
from topology.join.host import host_physical
from topology.join.logical import LogicalPart, logical_part
from topology.join.parts import CloudSnapshot, Described, HostPhysical, JsonDict
from topology.join.rejoin import CrossState


def digest(value: object) -> bytes | None:
    """A digest of a JSON value (None if it is not JSON: then it is not cached).

    The dashboard computes it once, when it stores a report or a snapshot, and passes it
    to :func:`join` (:class:`InputDigests`) instead of hashing every input on every rebuild.
    """
    try:
        return hashlib.blake2b(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS), digest_size=16).digest()
    except TypeError:
        return None


@dataclass(frozen=True)
class InputDigests:
    """The digests of a join's inputs, made when they were stored: the cloud snapshot's,
    and each host's report's (hosts not named have theirs computed by the join)."""

    cloud: bytes | None = None
    reports: Mapping[str, bytes] = field(default_factory=dict)


@dataclass
class JoinCache:
    """The parts of the last join, keyed by a digest of their input, for :func:`join` to reuse.

    ``rebuilt_hosts`` and ``rebuilt_logical`` say what the last join had to make afresh.
    """

    hosts: dict[str, tuple[bytes, HostPhysical]] = field(default_factory=dict)
    logical: tuple[bytes, LogicalPart] | None = None
    # the interfaces that ports bound in the last join, as described (see PortBinder)
    described: Described = field(default_factory=dict)
    rebuilt_hosts: list[str] = field(default_factory=list)
    rebuilt_logical: bool = False
    # hosts whose report the last join could not use (topology/quarantine.py), and why
    quarantined: dict[str, quarantine.Quarantined] = field(default_factory=dict)
    # host -> the digest of a report that failed the join, and why (not tried again)
    failed: dict[str, tuple[bytes, quarantine.Quarantined]] = field(default_factory=dict)
    # what the last join from these parts made of the whole cloud, for a re-join of a few hosts
    cross: CrossState | None = None
    # host -> parts made ahead of the next join from a report read (:meth:`prepare`), keyed by its digest
    made: dict[str, tuple[bytes, HostPhysical]] = field(default_factory=dict)

    def logical_part(self, cloud: CloudSnapshot, key: bytes | None = None) -> LogicalPart:
        """The logical part of ``cloud``; ``key``: its digest, if known."""
        key = key or digest(cloud)
        cached = self.logical
        self.rebuilt_logical = cached is None or key is None or cached[0] != key
        if cached is not None and not self.rebuilt_logical:
            return cached[1]
        part = logical_part(cloud)
        self.logical = (key, part) if key is not None else None
        return part

    def host_parts(
        self, reports: Mapping[str, JsonDict], keys: Mapping[str, bytes] | None = None
    ) -> dict[str, HostPhysical]:
        """Each host's physical part, in host order; hosts that no longer report are forgotten.

        ``keys``: the digests of the reports, for the hosts whose digest is known.
        """
        keys = keys or {}
        kept: dict[str, tuple[bytes, HostPhysical]] = {}
        pieces: dict[str, HostPhysical] = {}
        rebuilt: list[str] = []
        quarantined: dict[str, quarantine.Quarantined] = {}
        for host, report in sorted(reports.items()):
            key = keys.get(host) or digest(report)
            cached = self.hosts.get(host)
            if key is not None and cached is not None and cached[0] == key:
                piece = cached[1]
            else:
                made, failed = self.build(host, report, key)
                if made is None or failed is not None:
                    # the last good part (kept for the next join too), else the host node alone
                    if cached is not None:
                        kept[host], pieces[host] = cached, cached[1]
                    quarantined[host] = replace(failed or quarantine.not_encodable(host), kept_last=cached is not None)
                    continue
                piece = made
                rebuilt.append(host)
            if key is not None:
                kept[host] = (key, piece)
            pieces[host] = piece
        self.hosts, self.rebuilt_hosts, self.quarantined = kept, rebuilt, quarantined
        self.made = {}
        self.failed = {host: self.failed[host] for host in quarantined if host in self.failed}
        return pieces

    def fail_hosts(self, before: dict[str, tuple[bytes, HostPhysical]], hosts: list[str], exc: Exception) -> None:
        """The new parts of ``hosts`` failed the join: not tried again with the same report, and
        their parts from ``before`` (the cache's hosts before the last :meth:`host_parts`) kept."""
        quarantine.log.error("the join failed with the new parts of %s", hosts, exc_info=exc)
        why = quarantine.Quarantined(f"the join failed on it: {type(exc).__name__}", kept_last=False)
        for host in hosts:
            self.failed[host] = (self.hosts[host][0], why)
            if host in before:
                self.hosts[host] = before[host]
            else:
                del self.hosts[host]

    def build(
        self, host: str, report: JsonDict, key: bytes | None
    ) -> tuple[HostPhysical | None, quarantine.Quarantined | None]:
        """A host's part made afresh; None and why if its report cannot be joined."""
        if key is None:
            return None, None  # not encodable: quarantine.not_encodable says so
        ahead = self.made.get(host)  # consumed by host_parts (a re-join may still fall back to it)
        if ahead is not None and ahead[0] == key:
            return ahead[1], None
        failed = self.failed.get(host)
        if failed is not None and failed[0] == key:
            return None, failed[1]  # this very report failed before: not tried again
        made, why = quarantine.build_part(host, report, host_physical)
        if why is not None:
            self.failed[host] = (key, why)
        return made, why

    def prepare(self, host: str, report: JsonDict, key: bytes | None) -> None:
        """Make the part of a report just read, ahead of the join (which takes it as made afresh, by
        :meth:`build`), so that the report need not stay whole until then; a report whose part is
        cached, or that failed, is left to the join."""
        cached = self.hosts.get(host)
        failed = self.failed.get(host)
        if key is None or (cached is not None and cached[0] == key) or (failed is not None and failed[0] == key):
            return
        made, why = quarantine.build_part(host, report, host_physical)
        if why is not None:
            self.failed[host] = (key, why)
        elif made is not None:
            self.made[host] = (key, made)
