"""The long-running loop reacts to namespace, netlink and nf_tables events, debounced."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.agent.conftest import SUFFIX, needs_iptables, needs_root, sh
from topology.agent.collect import Collector
from topology.agent.watch import Debounce, Watcher

Report = dict[str, Any]


class Running:
    def __init__(self, watcher: Watcher, reports: queue.Queue[tuple[Report, str]]) -> None:
        self.watcher = watcher
        self.reports = reports

    def wait_for(self, predicate: Callable[[Report], bool], timeout: float = 8.0) -> tuple[Report, str]:
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            try:
                report, trigger = self.reports.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            seen.append(trigger)
            if predicate(report):
                return report, trigger
        raise AssertionError(f"no matching report within {timeout} s (triggers seen: {seen})")


@pytest.fixture
def running() -> Iterator[Running]:
    needs_root()
    reports: queue.Queue[tuple[Report, str]] = queue.Queue()
    collector = Collector("agt-watch", ovsdb=None)
    watcher = Watcher(
        collector, lambda report, trigger: reports.put((dict(report), trigger)), interval=300, debounce=0.2
    )
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    try:
        yield Running(watcher, reports)
    finally:
        watcher.stop()
        thread.join(10)
        watcher.close()
        collector.close()


def namespace(report: Report, name: str) -> Report | None:
    return next((ns for ns in report["namespaces"] if ns["name"] == name), None)


def test_it_reports_on_namespace_link_address_and_nat_changes(running: Running) -> None:
    needs_iptables()
    name = f"agtw{SUFFIX}"
    running.wait_for(lambda r: True)  # the start report
    try:
        # interval=300: any report within seconds was caused by an event
        # (the lab's own changes may be folded into the same report).
        sh("ip", "netns", "add", name)
        running.wait_for(lambda r: namespace(r, name) is not None)

        # An address inside the namespace: no root-namespace event at all.
        sh("ip", "-n", name, "addr", "add", "10.249.7.1/32", "dev", "lo")
        _, trigger = running.wait_for(
            lambda r: any("10.249.7.1/32" in i["addresses"] for i in (namespace(r, name) or {}).get("interfaces", []))
        )
        assert "netlink" in trigger

        # A DNAT rule like a floating IP's: an nf_tables event, and the
        # iptables text cache must not hide it.
        sh(
            "ip",
            "netns",
            "exec",
            name,
            "iptables",
            "-t",
            "nat",
            "-A",
            "PREROUTING",
            "-d",
            "10.249.7.1/32",
            "-j",
            "DNAT",
            "--to-destination",
            "10.249.7.2",
        )
        running.wait_for(lambda r: "DNAT" in ((namespace(r, name) or {}).get("iptables") or {}).get("nat", ""))
    finally:
        sh("ip", "netns", "del", name, check=False)
    running.wait_for(lambda r: namespace(r, name) is None)


def test_a_burst_of_events_gives_one_report(running: Running) -> None:
    running.wait_for(lambda r: True)
    names = [f"agtz{SUFFIX}{i}" for i in range(5)]
    partial: list[int] = []

    def complete(report: Report) -> bool:
        present = sum(1 for ns in names if namespace(report, ns))
        if 0 < present < len(names):
            partial.append(present)
        return present == len(names)

    try:
        for ns in names:  # a few ms apart, well inside the 0.2 s debounce
            sh("ip", "netns", "add", ns)
        running.wait_for(complete)
        # Other agents (the lab) may cause unrelated reports, but the burst
        # itself must not have been reported namespace by namespace.
        assert partial == []
    finally:
        for ns in names:
            sh("ip", "netns", "del", ns, check=False)


def test_debounce_waits_for_quiet_but_not_forever() -> None:
    debounce = Debounce(quiet=0.5, max_delay=2.0)
    assert debounce.deadline() is None
    debounce.event(10.0, "netlink")
    assert debounce.deadline() == 10.5
    debounce.event(10.4, "ovsdb")
    assert debounce.deadline() == 10.9
    for t in (10.8, 11.2, 11.6, 11.95):
        debounce.event(t, "netlink")
    assert debounce.deadline() == 12.0  # capped at first event + max_delay
    assert debounce.clear() == "netlink,ovsdb"
    assert debounce.deadline() is None
