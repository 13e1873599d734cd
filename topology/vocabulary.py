"""The names the map shows for the explainer's enumerations, served in the map page's config.

Minimal stand-in (issue 14 item 4): today's values of the map's script, in the shape the
map reads (``config.vocabulary``); the real one is built from the path package's enumerations.
"""

from __future__ import annotations

SCENARIOS: dict[str, tuple[str, bool]] = {
    "north-south-snat": ("north-south: out through the router's SNAT", True),
    "north-south-snat-dvr": ("north-south (DVR): out through the snat namespace", False),
    "north-south-fip": ("north-south with a floating IP", True),
    "north-south-fip-dvr": ("north-south with a floating IP (DVR, through the fip namespace)", True),
    "inbound-fip": ("inbound to a floating IP", True),
    "inbound-fip-dvr": ("inbound to a floating IP (DVR, through the fip namespace)", True),
    "east-west": ("east-west through the router", True),
    "east-west-dvr": ("east-west (DVR, routed on each compute host)", False),
    "same-network": ("on the same network (switched, not routed)", True),
}
TUNNEL_TYPES: tuple[str, ...] = ("vxlan", "gre", "geneve")


def map_vocabulary() -> dict[str, object]:
    """``{"scenarios": {name: {"label", "symmetric"}}, "tunnel_types": [...]}`` for the map's script."""
    return {
        "scenarios": {name: {"label": label, "symmetric": symmetric} for name, (label, symmetric) in SCENARIOS.items()},
        "tunnel_types": list(TUNNEL_TYPES),
    }
