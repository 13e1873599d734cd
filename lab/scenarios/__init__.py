"""Scenarios: topologies the lab builds on its running cloud, one module each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lab.scenarios import allinone, dvr, overlap

# name -> build function returning the scenario's part of state.json
SCENARIOS: dict[str, Callable[[], dict[str, Any]]] = {
    "allinone": allinone.build,
    "dvr": dvr.build,
    "overlap": overlap.build,
}

# Scenarios with distributed routers: host 1's L3 agent in dvr_snat mode and
# host compute2 running (lab/hosts.py). The others: one host, legacy routers.
DVR_SCENARIOS = frozenset({"dvr"})


def needs_dvr(scenario: str) -> bool:
    return scenario in DVR_SCENARIOS
