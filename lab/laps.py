"""The seconds each step of an up or a scenario switch took, for state.json's `timings`."""

from __future__ import annotations

import time
from collections.abc import Callable


class Laps:
    """Time each step since the previous one (since the start for the first), to 0.1 s.

    laps = Laps(); install(); laps.lap("install"); ... _finish(..., laps.timings, laps.t0)
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.t0 = self.last = clock()
        self.timings: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = self.clock()
        self.timings[name] = round(now - self.last, 1)
        self.last = now
