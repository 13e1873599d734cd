"""The pure parts of bench/ingest.py: markers, what a websocket delta says about them, percentiles, tallies.

A marker is a root-namespace interface ``mk<seq>`` added to a host's report (a new
interface named with a counter): the join makes it the node ``iface:<host>:-:mk<seq>``,
so the delta that carries it names it in ``added.nodes``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bench.synthetic import iface

JsonDict = dict[str, Any]
MARKER_ID = re.compile(r"^iface:([^:]+):-:(mk\d+)$")
MARKER_IN_BODY = re.compile(r'"iface:[^":]+:-:(mk\d+)"')  # a marker node's id in a topology body


@dataclass
class Post:
    """One report POSTed (or meant to be): when it was due, sent and answered, and how."""

    host: str
    marker: str | None
    due: float
    started: float = 0.0
    ended: float = 0.0
    status: str = "not sent"
    detail: str = ""  # the answer's start when refused (what the server said)
    retry_after: float | None = None  # seconds, when the refusal said

    @property
    def latency(self) -> float:
        return self.ended - self.started

    @property
    def accepted(self) -> bool:
        return self.status == "202"


def marker_name(seq: int) -> str:
    return f"mk{seq:06d}"


def with_marker(report: JsonDict, seq: int, collected_at: str) -> JsonDict:
    """The host's report plus one new interface named after ``seq`` (a shallow copy: ``report`` is kept)."""
    marker = iface(marker_name(seq), "dummy", n=seq)
    return {**report, "collected_at": collected_at, "interfaces": [*report["interfaces"], marker]}


def markers_in(message: Mapping[str, Any]) -> list[str]:
    """The markers a ``topology.delta`` websocket message adds (nothing for other messages)."""
    if message.get("type") != "topology.delta":
        return []
    added = message.get("added") or {}
    found = []
    for node in added.get("nodes") or []:
        match = MARKER_ID.match(str(node.get("id", "")) if isinstance(node, dict) else "")
        if match:
            found.append(match.group(2))
    return found


def percentile(values: Iterable[float], q: float) -> float:
    """Nearest-rank percentile (as bench/map_browser.py): the value at rank round(q * (n - 1)); nan if empty."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def status_label(status: int | None, error: BaseException | None = None) -> str:
    """``"202"``, ``"500"``... or the client-side failure's class name (``timeout``, ``ConnectionError``)."""
    if error is not None:
        return "timeout" if "Timeout" in type(error).__name__ else type(error).__name__
    return str(status)


def retried(status: str) -> bool:
    """Whether the agent sends a report again after this outcome: a 5xx, 429, or no answer at all."""
    return not status.isdigit() or status == "429" or status.startswith("5")


EXCEPTION_LINE = re.compile(r"^((?:\w+\.)*\w*(?:Error|Exception)): (.*)$", re.MULTILINE)


def log_errors(text: str, width: int = 120) -> Counter[str]:
    """The exceptions a server log ends its tracebacks with (``module.Error: message``), counted."""
    return Counter(f"{name}: {message[:width]}" for name, message in EXCEPTION_LINE.findall(text))


def hosts_in(posts: Iterable[Post]) -> set[str]:
    return {p.host for p in posts if p.accepted}


def status_counts(posts: Iterable[Post]) -> Counter[str]:
    return Counter(p.status for p in posts)


def refusals(posts: Iterable[Post], width: int = 160) -> Counter[str]:
    """What refused reports were told, by status and the answer's first ``width`` characters."""
    return Counter(f"{p.status} {gist(p.detail)[:width]}" for p in posts if p.status not in ("202", "not sent"))


def gist(detail: str) -> str:
    """An answer's text on one line; an HTML error page by its title."""
    title = re.search(r"<title>(.*?)</title>", detail, re.DOTALL)
    return " ".join((title.group(1) if title else detail).split())


@dataclass
class Delivery:
    latencies: list[float]  # seconds from the POST's start to the delta naming its marker
    never: list[Post]  # accepted, and their marker never seen on the websocket (nor in a resync's REST read)
    by_resync: int  # accepted, not named by any delta but seen in a REST read after a reconnection
    superseded: int  # of the never delivered, how many a later accepted report of the same host (seen) replaced


def delivery(
    posts: Iterable[Post], seen: Mapping[str, float], seen_rest: Mapping[str, float] | None = None
) -> Delivery:
    """Match accepted posts' markers with the times the websocket first named them."""
    accepted = [p for p in posts if p.accepted and p.marker is not None]
    latencies, never, by_resync = [], [], 0
    for post in accepted:
        at = seen.get(post.marker or "")
        if at is not None:
            latencies.append(at - post.started)
        elif (post.marker or "") in (seen_rest or {}):
            by_resync += 1
        else:
            never.append(post)
    last_seen: dict[str, float] = {}
    for post in accepted:
        if (post.marker or "") in seen or (post.marker or "") in (seen_rest or {}):
            last_seen[post.host] = max(last_seen.get(post.host, 0.0), post.started)
    superseded = sum(1 for p in never if last_seen.get(p.host, 0.0) > p.started)
    return Delivery(latencies, never, by_resync, superseded)


def ms(seconds: float) -> str:
    return "n/a" if seconds != seconds else f"{seconds * 1000:.0f} ms"


def latency_line(values: list[float]) -> str:
    if not values:
        return "none"
    return (
        f"p50 {ms(percentile(values, 0.5))}, p95 {ms(percentile(values, 0.95))}, max {ms(max(values))} ({len(values)})"
    )


def counts_line(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "none"


def ratio(value: float, target: float) -> str:
    """``value`` as a multiple of ``target`` (``"n/a"`` when either is unknown)."""
    if value != value or not target:
        return "n/a"
    return f"{value / target:.2f}x"
