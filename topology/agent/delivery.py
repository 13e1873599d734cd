"""Until delivered: when the long-running agent sends again a report the dashboard did not take.

bin/run starts the lab's node agents before the dashboard listens: a sender
that gave up after a few seconds left the physical view empty until the next
resync, a minute later. The watcher now keeps an undelivered report and sends
it again after a delay from `Backoff` until it gets through (a newer report,
after a change, takes its place):

* nobody listening (connection refused, timeout): 1 s, then every 2 s, so
  the report arrives within seconds of the dashboard listening;
* the dashboard answered 5xx or 429: the same doubling up to 30 s (a report is
  up to megabytes: no hammering a failing server), or exactly its Retry-After
  on 429/503 (bounded by send.MAX_RETRY_AFTER);
* rejected (another 4xx: a bad token, a report it refuses): not sent again;
  the next report waits for a change or the resync and at least the hold of
  `RejectedHold`: REJECTED_HOLD_S, doubling with every refusal in a row up to
  REJECTED_MAX_S. A dashboard older than the agent refuses every report (its
  `version`) until it is upgraded: the agent stays up and asks again, more and
  more rarely, instead of exiting into a restart loop.
"""

from __future__ import annotations

from dataclasses import dataclass

from topology.agent.send import SendFailed

FIRST_DELAY_S = 1.0
UNREACHABLE_MAX_S = 2.0  # a refused connection costs nothing: look often
ANSWERED_MAX_S = 30.0
REJECTED_HOLD_S = 30.0
REJECTED_MAX_S = 900.0


@dataclass
class Backoff:
    """Delays between attempts to deliver; `reset()` once one got through."""

    failures: int = 0

    def delay(self, failure: SendFailed) -> float:
        cap = ANSWERED_MAX_S if failure.answered else UNREACHABLE_MAX_S
        doubled = min(FIRST_DELAY_S * 2 ** min(self.failures, 16), cap)
        self.failures += 1
        return failure.retry_after if failure.retry_after is not None else doubled

    def reset(self) -> None:
        self.failures = 0


@dataclass
class RejectedHold:
    """How long to hold the next report after the dashboard refused one; `reset()` once one is taken."""

    first: float = REJECTED_HOLD_S
    cap: float = REJECTED_MAX_S
    refusals: int = 0

    def delay(self) -> float:
        hold = min(self.first * 2 ** min(self.refusals, 16), max(self.cap, self.first))
        self.refusals += 1
        return hold

    def reset(self) -> None:
        self.refusals = 0
