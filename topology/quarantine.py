"""One host's bad report fails alone: its physical part is quarantined, the graph keeps moving.

Ingest refuses what it can see is wrong (topology/report/), but a stored report
may still fail the join: one stored before a check existed, or a shape the checks
let through that the join cannot read. Without this, that one host's report would
make every rebuild fail, for every other agent and for the cloud refresh, until
the host sent a new one. Instead its part is replaced by the last part made from a
good report of that host (if this process has one) or by nothing (the host node
alone), and the host node says why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger(__name__)

JsonDict = dict[str, Any]
Part = TypeVar("Part")


@dataclass(frozen=True)
class Quarantined:
    """Why a host's report was not joined, and whether its last good part stands in for it."""

    reason: str
    kept_last: bool

    def warning(self, host: str) -> str:
        instead = "its last good report is shown" if self.kept_last else "its bridges and namespaces are not shown"
        return f"the report of {host} could not be joined ({self.reason}): {instead} until it sends a good one"


def not_encodable(host: str) -> Quarantined:
    """A report without a digest is not JSON orjson can encode (e.g. nested too deep):
    joined, it would make every view fail to encode."""
    log.warning("report of %s quarantined: it is not encodable JSON", host)
    return Quarantined("it is not encodable JSON (nested too deep, or a value JSON cannot hold)", kept_last=False)


def build_part(
    host: str, report: JsonDict, make: Callable[[str, JsonDict], Part]
) -> tuple[Part | None, Quarantined | None]:
    """``make(host, report)``, or None and why if it failed."""
    try:
        return make(host, report), None
    except Exception as exc:  # any failure of one host's part is that host's alone
        log.warning("report of %s quarantined: the join failed on it", host, exc_info=True)
        return None, Quarantined(f"the join failed on it: {type(exc).__name__}", kept_last=False)


def culprits(hosts: list[str], joins_with: Callable[[set[str]], bool]) -> list[str]:
    """The hosts whose new parts make the join fail, found by halves: ``joins_with(some)`` says
    whether it succeeds with only those hosts' new parts (about 2·log2(n) joins per bad host)."""
    if len(hosts) <= 1:
        return list(hosts)
    half = len(hosts) // 2
    bad: list[str] = []
    for part in (hosts[:half], hosts[half:]):
        if not joins_with(set(part)):
            bad += culprits(part, joins_with)
    return bad
