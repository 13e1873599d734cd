"""Scenarios: topologies the lab builds on its running cloud, one module each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lab.scenarios import allinone

# name -> build function returning the scenario's part of state.json
SCENARIOS: dict[str, Callable[[], dict[str, Any]]] = {
    "allinone": allinone.build,
}
