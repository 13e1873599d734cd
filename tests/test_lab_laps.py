"""lab.laps: the `timings` of state.json (an up's and a scenario switch's), on a clock the test turns."""

from __future__ import annotations

from lab.laps import Laps


def test_each_lap_is_the_time_since_the_previous_one_and_t0_the_start() -> None:
    ticks = iter([100.0, 112.34, 112.36, 190.0])
    laps = Laps(clock=lambda: next(ticks))
    laps.lap("install")
    laps.lap("services")
    laps.lap("scenario")
    assert laps.t0 == 100.0
    assert laps.timings == {"install": 12.3, "services": 0.0, "scenario": 77.6}
    assert list(laps.timings) == ["install", "services", "scenario"]  # the order the steps ran in
