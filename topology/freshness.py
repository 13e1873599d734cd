"""Hosts whose last agent report is too old: shown as stale, not as if current.

A decommissioned (or cut off) host keeps its last report in the database; the
join would keep drawing its bridges and namespaces as they were. After the
join, :func:`mark_stale` marks such host nodes (``status`` ``STALE`` unless a
dead agent already says ``DOWN``, ``attrs.stale`` the time of the last report,
and a warning); the path explainer warns on hops on that host (``host_stale``).

Pure: the caller gives ``now`` (the beat refresh rebuilds with the clock, so a
host turns stale without any new report arriving), and the join's cached node
dicts are copied, never changed in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from topology import graph as g

STALE = "STALE"


def stale_message(host: str, since: str) -> str:
    return f"no fresh report from host {host} since {since}: what is shown of it may no longer be true"


def stale_hosts(received: Mapping[str, datetime], now: datetime, max_age: timedelta) -> dict[str, str]:
    """Host -> when its last report arrived (ISO 8601, to the second), for those older than ``max_age`` at ``now``."""
    return {host: at.replace(microsecond=0).isoformat() for host, at in sorted(received.items()) if now - at > max_age}


def mark_stale(graph: dict[str, list[Any]], stale: Mapping[str, str]) -> dict[str, list[Any]]:
    """The graph with the host nodes of ``stale`` marked; the same object when there is none."""
    if not stale:
        return graph
    by_id = {g.host_id(host): since for host, since in stale.items()}
    nodes = [stale_node(node, by_id[node["id"]]) if node["id"] in by_id else node for node in graph["nodes"]]
    return {**graph, "nodes": nodes}


def stale_node(node: dict[str, Any], since: str) -> dict[str, Any]:
    attrs = dict(node["attrs"])
    attrs["stale"] = since
    attrs["warnings"] = [*attrs.get("warnings", []), stale_message(node["label"], since)]
    return {**node, "status": node.get("status") if node.get("status") == "DOWN" else STALE, "attrs": attrs}
