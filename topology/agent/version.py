"""The agent's release: the installed wheel's version, or "source" when run from a checkout."""

from __future__ import annotations

from importlib import metadata

DISTRIBUTION = "neutron-map-agent"


def agent_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "source"
