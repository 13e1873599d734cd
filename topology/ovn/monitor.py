"""The OVN monitor: NB and SB kept open, each change in the cloud snapshot within a fraction of a second.

The periodic refresh reads OVN's databases once per poll (topology/ovn/collect.py): a port bound,
a chassis gone or an ACL added waits up to a refresh for the map. ovsdbapp's IDL is itself an
OVSDB monitor (the server pushes every change of the monitored columns to the client), so the
monitor keeps one connection to each database open, watches the IDL's ``change_seqno`` and, once no
change has come for :data:`BATCH_WAIT` seconds (a burst of northd's writes costs one apply), reads the
tables from the IDL's own copy (no round trip) into exactly the shape the refresh stores, and hands it
to ``on_change`` (topology/ovn/monitor_apply.py puts it in the snapshot and marks the graph writer).

A database that cannot be reached is retried every :data:`RETRY_SECONDS`, its error kept in the
``errors`` the snapshot says (as the refresh does); a connection that drops is reconnected by the IDL
itself (ovsdbapp), which dumps the database again on reconnect: a change, so it is re-read.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from topology.ovn import northbound, southbound
from topology.ovn.collect import OvnRemotes
from topology.ovn.connection import NB_SCHEMA, SB_SCHEMA, OvnDb, OvnUnavailable, connect
from topology.ovn.values import plain

log = logging.getLogger(__name__)
BATCH_WAIT = 0.2  # seconds without a new change before the databases are read
POLL_SECONDS = 0.05  # how often the IDLs' change counters are looked at
RETRY_SECONDS = 5.0  # an unreachable database is tried again this often
HEARTBEAT_SECONDS = 5.0  # the state is said at least this often (and after each change)
Connect = Callable[[str, str, Any, float], OvnDb]
OnChange = Callable[[dict[str, Any]], object]


@dataclass
class Watched:
    """One database the monitor keeps: its remote, schema, what reads it, and its connection when up."""

    remote: str
    schema: str
    columns: Any
    read: Callable[[dict[str, Any]], dict[str, Any]]
    db: OvnDb | None = None
    seen: int = -1  # the IDL's change_seqno when last read
    error: str | None = None
    retry_at: float = 0.0

    def seqno(self) -> int | None:
        return None if self.db is None else int(self.db.conn.idl.change_seqno)

    def snapshot(self) -> dict[str, Any] | None:
        if self.db is None:
            return None
        with self.db.conn.lock:
            self.seen = int(self.db.conn.idl.change_seqno)
            return plain(self.read(self.db.tables()))


@dataclass
class OvnMonitor:
    """``run(stop)`` until ``stop`` is set; ``on_change(ovn)`` with the snapshot's ``ovn`` after each change."""

    remotes: OvnRemotes
    on_change: OnChange
    connector: Connect = connect
    watched: list[Watched] = field(default_factory=list)
    applied: int = 0  # how many times on_change ran

    def __post_init__(self) -> None:
        wanted = (
            (self.remotes.nb, NB_SCHEMA, northbound.COLUMNS, northbound.northbound_from_tables),
            (self.remotes.sb, SB_SCHEMA, southbound.COLUMNS, southbound.southbound_from_tables),
        )
        self.watched = [Watched(remote, schema, columns, read) for remote, schema, columns, read in wanted if remote]

    def connect_missing(self, now: float) -> bool:
        """Connect the databases that are down and due; True when one came up (its first dump is a change)."""
        came_up = False
        for one in self.watched:
            if one.db is not None or now < one.retry_at:
                continue
            try:
                one.db = self.connector(one.remote, one.schema, one.columns, self.remotes.timeout)
                one.error, one.seen = None, -1
                came_up = True
                log.info("OVN monitor: %s at %s connected", one.schema, one.remote)
            except OvnUnavailable as exc:
                one.error, one.retry_at = str(exc), now + RETRY_SECONDS
                log.warning("OVN monitor: %s; again in %.0f s", exc, RETRY_SECONDS)
        return came_up

    def pending(self) -> bool:
        """Whether any connected database changed since it was last read."""
        return any(one.db is not None and one.seqno() != one.seen for one in self.watched)

    def ovn(self) -> dict[str, Any]:
        """What the snapshot keeps under ``ovn`` (collect_ovn's shape): each database, and the errors."""
        by_schema = {one.schema: one for one in self.watched}
        nb, sb = by_schema.get(NB_SCHEMA), by_schema.get(SB_SCHEMA)
        return {
            "nb": nb.snapshot() if nb else None,
            "sb": sb.snapshot() if sb else None,
            "errors": [one.error for one in self.watched if one.error],
        }

    def step(self, now: float) -> bool:
        """One round: connect what is due; when something changed and then settled, read and apply. True if applied."""
        first = self.connect_missing(now)
        if not (first or self.pending()):
            return False
        settle_until = time.monotonic() + BATCH_WAIT
        marks = [one.seqno() for one in self.watched]
        while time.monotonic() < settle_until:  # a burst (northd writing after an NB change) is read once
            time.sleep(POLL_SECONDS)
            now_marks = [one.seqno() for one in self.watched]
            if now_marks != marks:
                marks, settle_until = now_marks, time.monotonic() + BATCH_WAIT
        self.on_change(self.ovn())
        self.applied += 1
        return True

    def run(self, stop: threading.Event, heartbeat: Callable[[OvnMonitor], None] | None = None) -> None:
        said = 0.0
        try:
            while not stop.is_set():
                applied = False
                try:
                    applied = self.step(time.monotonic())
                except Exception:  # an apply that failed (the database, Redis): logged, the refresh is the net
                    log.exception("OVN monitor: applying a change failed")
                    for one in self.watched:
                        one.seen = -2  # read again on the next round
                    stop.wait(RETRY_SECONDS)
                if heartbeat is not None and (applied or time.monotonic() - said >= HEARTBEAT_SECONDS):
                    heartbeat(self)
                    said = time.monotonic()
                stop.wait(POLL_SECONDS)
        finally:
            self.close()

    def close(self) -> None:
        for one in self.watched:
            if one.db is not None:
                one.db.close()
                one.db = None

    def state(self) -> dict[str, Any]:
        """For the status API: each database's remote, whether connected, and its error."""
        return {
            "databases": [
                {"schema": one.schema, "remote": one.remote, "connected": one.db is not None, "error": one.error}
                for one in self.watched
            ],
            "applied": self.applied,
        }
