"""The long-running agent: report again when the node's networking changes.

Wake-up sources, all in one epoll loop:

* netlink (links, addresses, routes, rules) of the root namespace and of
  every namespace under /run/netns: a floating IP added to ``qg-`` inside a
  ``qrouter-`` namespace makes no event in the root namespace;
* nf_tables ruleset changes of the same namespaces (iptables-nft, which
  Debian and Neutron use, is nf_tables underneath): a new DNAT rule;
* inotify on /run/netns: namespaces created or deleted by the L3/DHCP agents;
* OVSDB: the IDL's change notifications (bridges, ports, tags, interfaces).

Events are only wake-ups: every report is a full report. They are debounced
(``debounce`` seconds of quiet, but never more than ``max_delay`` after the
first event, so a busy node still reports), and a full resync with fresh
iptables counters runs every ``interval`` seconds regardless.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import resource
import selectors
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from topology.agent import iptables, netlink
from topology.agent.collect import Collector, list_namespaces
from topology.agent.delivery import REJECTED_HOLD_S, Backoff, RejectedHold
from topology.agent.send import ReportRejected, SendFailed
from topology.report import REPORT_VERSION, Report

LOG = logging.getLogger(__name__)

RTMGRP_LINK = 0x1
RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV4_ROUTE = 0x40
RTMGRP_IPV4_RULE = 0x80
RTMGRP_IPV6_IFADDR = 0x100
RTMGRP_IPV6_ROUTE = 0x400
RTMGRP_IPV6_RULE = 1 << (19 - 1)
RTNL_GROUPS = (
    RTMGRP_LINK
    | RTMGRP_IPV4_IFADDR
    | RTMGRP_IPV4_ROUTE
    | RTMGRP_IPV4_RULE
    | RTMGRP_IPV6_IFADDR
    | RTMGRP_IPV6_ROUTE
    | RTMGRP_IPV6_RULE
)
NFT_GROUPS = 1 << (iptables.NFNLGRP_NFTABLES - 1)

IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC

NETNS_DIR_POLL_S = 2.0  # while /run/netns does not exist yet
SKIPPED_RETRY_S = 1.0  # `ip netns add` creates the file before it mounts the namespace on it

_libc = ctypes.CDLL(None, use_errno=True)

Sink = Callable[[Report, str], None]


def raise_fd_limit(wanted: int = 65536) -> int:
    """Two sockets per namespace: lift the soft fd limit towards the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return int(soft)


def drain(sock_or_fd: socket.socket | int) -> None:
    """Read and drop everything pending: the content does not matter, only that something changed."""
    while True:
        try:
            if isinstance(sock_or_fd, socket.socket):
                sock_or_fd.recv(1 << 16, socket.MSG_DONTWAIT)
            else:
                if not os.read(sock_or_fd, 1 << 16):
                    return
        except BlockingIOError:
            return
        except OSError:  # ENOBUFS: events were lost, which still means "changed"
            return


@dataclass
class _NamespaceWatch:
    inode: int
    sockets: list[socket.socket]


@dataclass
class Debounce:
    """When to collect after a burst of events."""

    quiet: float
    max_delay: float
    first: float | None = None
    last: float | None = None
    reasons: set[str] = field(default_factory=set)

    def event(self, now: float, reason: str) -> None:
        if self.first is None:
            self.first = now
        self.last = now
        self.reasons.add(reason)

    def deadline(self) -> float | None:
        if self.first is None or self.last is None:
            return None
        return min(self.last + self.quiet, self.first + self.max_delay)

    def clear(self) -> str:
        reasons = ",".join(sorted(self.reasons)) or "event"
        self.first = self.last = None
        self.reasons = set()
        return reasons


class Watcher:
    """Collects and hands reports to ``sink`` on events and every ``interval`` seconds."""

    def __init__(
        self,
        collector: Collector,
        sink: Sink,
        *,
        interval: float = 60.0,
        debounce: float = 0.5,
        rejected_hold: float = REJECTED_HOLD_S,
    ) -> None:
        self.collector = collector
        self.sink = sink
        self.interval = interval
        self.debounce = Debounce(quiet=debounce, max_delay=max(5 * debounce, 2.0))
        self.selector = selectors.DefaultSelector()
        self.namespaces: dict[str, _NamespaceWatch] = {}
        self.stopping = False
        self._inotify_fd: int | None = None
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._retry_at: float | None = None
        self._last_skipped: frozenset[str] = frozenset()
        # Delivery (topology/agent/delivery.py): the report to send again, when, and
        # after a rejection, no report before `_hold_until`.
        self.backoff = Backoff()
        self.rejected = RejectedHold(first=rejected_hold)
        self._undelivered: tuple[Report, str] | None = None
        self._redeliver_at: float | None = None
        self._hold_until: float | None = None
        self._fd_budget_exhausted = False

    # -- setup -------------------------------------------------------------

    def start(self) -> None:
        raise_fd_limit()
        self.selector.register(self._wake_r, selectors.EVENT_READ, ("wake", self._wake_r))
        for sock in (netlink.rtnl_socket(RTNL_GROUPS), iptables.netfilter_socket(NFT_GROUPS)):
            sock.setblocking(False)
            self.selector.register(sock, selectors.EVENT_READ, ("netlink", sock))
        self._watch_netns_dir()
        if self.collector.ovs is not None:
            self.collector.ovs.on_change = self.wake

    def wake(self) -> None:
        """Called from the OVSDB IDL thread (and signal handlers): wake the loop."""
        with contextlib.suppress(BlockingIOError):  # the pipe is full: the loop is awake anyway
            os.write(self._wake_w, b"o")

    def _watch_netns_dir(self) -> None:
        if self._inotify_fd is not None:
            return
        fd = _libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            LOG.warning(
                "inotify unavailable (%s): new namespaces are seen at the next resync", os.strerror(ctypes.get_errno())
            )
            return
        mask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF
        if _libc.inotify_add_watch(fd, os.fsencode(self.collector.netns_dir), mask) < 0:
            os.close(fd)  # the directory does not exist yet: polled in the loop
            return
        self._inotify_fd = fd
        self.selector.register(fd, selectors.EVENT_READ, ("netns", fd))

    def _unwatch_netns_dir(self) -> None:
        if self._inotify_fd is not None:
            self.selector.unregister(self._inotify_fd)
            os.close(self._inotify_fd)
            self._inotify_fd = None

    def _sync_namespace_watches(self) -> None:
        """One rtnl and one nf_tables event socket per namespace, following /run/netns."""
        present = set(list_namespaces(self.collector.netns_dir))
        for name in set(self.namespaces) - present:
            self._unwatch(name)
        for name in sorted(present):
            if self._fd_budget_exhausted:
                return
            try:
                self._watch_namespace(name)
            except netlink.NamespaceGone:
                self._unwatch(name)
            except OSError as exc:
                if exc.errno == 24:  # EMFILE: resync still covers the rest
                    LOG.warning(
                        "out of file descriptors: namespaces beyond %d are only seen by resync", len(self.namespaces)
                    )
                    self._fd_budget_exhausted = True
                elif not netlink.is_missing(exc):
                    raise

    def _watch_namespace(self, name: str) -> None:
        fd = netlink.open_namespace(self.collector.netns_dir, name)
        try:
            inode = netlink.namespace_inode(fd)
            known = self.namespaces.get(name)
            if known is not None and known.inode == inode:
                return
            self._unwatch(name)  # recreated under the same name
            with netlink.entered(fd, self.collector.root_fd):
                sockets = [netlink.rtnl_socket(RTNL_GROUPS)]
                with contextlib.suppress(OSError):  # no nf_tables: link/route events still count
                    sockets.append(iptables.netfilter_socket(NFT_GROUPS))
        finally:
            os.close(fd)
        for sock in sockets:
            sock.setblocking(False)
            self.selector.register(sock, selectors.EVENT_READ, ("netlink", sock))
        self.namespaces[name] = _NamespaceWatch(inode=inode, sockets=sockets)

    def _unwatch(self, name: str) -> None:
        watch = self.namespaces.pop(name, None)
        for sock in watch.sockets if watch else []:
            self.selector.unregister(sock)
            sock.close()

    # -- loop --------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to end (thread-safe)."""
        self.stopping = True
        self.wake()

    def run(self) -> None:
        self.start()
        self._install_signal_handlers()
        self._report(fresh=True, trigger="start")
        next_resync = time.monotonic() + self.interval
        next_dir_poll = time.monotonic() + NETNS_DIR_POLL_S
        while not self.stopping:
            now = time.monotonic()
            resync_at = max(next_resync, self._hold_until or 0.0)
            deadlines = [resync_at, self._event_deadline(), self._retry_at, self._redeliver_at]
            if self._inotify_fd is None:
                deadlines.append(next_dir_poll)
            timeout = max(0.0, min(d for d in deadlines if d is not None) - now)
            for key, _mask in self.selector.select(timeout):
                reason, source = key.data
                drain(source)
                if reason == "netns" and not self.collector.netns_dir.is_dir():
                    self._unwatch_netns_dir()  # /run/netns removed: poll until it is back
                if reason != "wake" or not self.stopping:
                    self.debounce.event(time.monotonic(), "ovsdb" if reason == "wake" else reason)
            if self.stopping:
                break
            now = time.monotonic()
            if self._inotify_fd is None and now >= next_dir_poll:
                self._watch_netns_dir()
                next_dir_poll = now + NETNS_DIR_POLL_S
                if self._inotify_fd is not None:
                    self.debounce.event(now, "netns")
            if now >= next_resync and not self._held(now):
                self._report(fresh=True, trigger="resync")
                next_resync = time.monotonic() + self.interval
            elif (deadline := self._event_deadline()) is not None and now >= deadline:
                self._report(fresh=False, trigger=self.debounce.clear())
            elif self._retry_at is not None and now >= self._retry_at:
                self._report(fresh=False, trigger="retry")
            elif self._undelivered is not None and self._redeliver_at is not None and now >= self._redeliver_at:
                report, trigger = self._undelivered
                self._deliver(report, trigger if trigger.endswith("again") else f"{trigger}, again")

    def _event_deadline(self) -> float | None:
        """When to report after events: the debounce's deadline, but not before a rejection's hold ends."""
        deadline = self.debounce.deadline()
        if deadline is None or self._hold_until is None:
            return deadline
        return max(deadline, self._hold_until)

    def _held(self, now: float) -> bool:
        """After a refusal, not even the resync reports before the hold ends."""
        return self._hold_until is not None and now < self._hold_until

    def _report(self, *, fresh: bool, trigger: str) -> None:
        self.debounce.clear()
        self._retry_at = None
        self._sync_namespace_watches()
        report = self.collector.collect(fresh=fresh)
        self._schedule_retry(report)
        self._deliver(report, trigger)

    def _deliver(self, report: Report, trigger: str) -> None:
        """Hand `report` to the sink; keep it to send again if it did not get through."""
        self._undelivered = self._redeliver_at = None
        try:
            self.sink(report, trigger)
        except SendFailed as exc:
            delay = self.backoff.delay(exc)
            self._undelivered, self._redeliver_at = (report, trigger), time.monotonic() + delay
            LOG.warning("report (trigger %s) not delivered: %s; sending it again in %.1f s", trigger, exc, delay)
        except ReportRejected as exc:
            # Sent again it would be refused again: wait for a change (or the resync), longer each time.
            self.backoff.reset()
            hold = self.rejected.delay()
            self._hold_until = time.monotonic() + hold
            LOG.error(
                "the dashboard rejected the report (trigger %s): %s; not sent again: the next report "
                "goes after a change or the resync, not within %.0f s%s",
                trigger,
                exc,
                hold,
                version_hint(exc),
            )
        except Exception:  # a failed send must not stop the agent: the next report carries everything
            LOG.exception("could not deliver the report (trigger %s)", trigger)
        else:
            self.backoff.reset()
            self.rejected.reset()
            self._hold_until = None

    def _schedule_retry(self, report: Report) -> None:
        # A namespace whose file exists but could not be entered is usually
        # one `ip netns add` has not mounted yet: look again shortly, once.
        extra: dict[str, Any] = report  # type: ignore[assignment]
        skipped = frozenset(extra.get("collection", {}).get("namespaces_skipped", []))
        if skipped and skipped != self._last_skipped:
            self._retry_at = time.monotonic() + SKIPPED_RETRY_S
        self._last_skipped = skipped

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # only the main thread may install handlers (tests run the loop in a thread)

        def stop(signum: int, frame: FrameType | None) -> None:
            self.stopping = True
            self.wake()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

    def close(self) -> None:
        for name in list(self.namespaces):
            self._unwatch(name)
        for key in list(self.selector.get_map().values()):
            self.selector.unregister(key.fileobj)
            if isinstance(key.fileobj, socket.socket):
                key.fileobj.close()
        self.selector.close()
        if self._inotify_fd is not None:
            os.close(self._inotify_fd)
            self._inotify_fd = None
        os.close(self._wake_r)
        os.close(self._wake_w)


def version_hint(exc: ReportRejected) -> str:
    """What to do when the refusal is about the report's version: the dashboard is older than the agent."""
    if exc.status != 400 or "version" not in exc.reason:
        return ""
    return (
        f" (this agent sends report version {REPORT_VERSION}, which this dashboard does not accept:"
        " upgrade the dashboard, or install the agent release that matches it)"
    )
