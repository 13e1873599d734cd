"""The explainer's and the graph's vocabulary as the map needs it: one source, served, never mirrored in JS."""

from __future__ import annotations

from topology.kinds import TUNNEL_TYPES
from topology.path.model import Scenario


def map_vocabulary() -> dict[str, object]:
    """Scenario names with their label and whether the reply retraces the way there; the tunnel types."""
    return {
        "scenarios": {
            name: {"label": about.label, "symmetric": about.symmetric} for name, about in Scenario.ABOUT.items()
        },
        "tunnel_types": sorted(TUNNEL_TYPES),
    }
