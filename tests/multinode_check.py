"""What tests/test_multinode.py asks the stack's database, run there as an operator would:
``manage.py shell -c "from tests.multinode_check import ...; ...()"`` with the stack's environment
(its PostgreSQL, its Redis), never this test process's database. Each prints one JSON line.
"""

from __future__ import annotations

from typing import Any

import orjson

from bench.ingest_stats import MARKER_ID
from bench.synthetic import synthetic_cloud

SHAPE = {"hosts": 4, "ports": 16, "projects": 2, "network_nodes": 1, "tunnel_peers": 2}
JsonDict = dict[str, Any]


def emit(value: object) -> None:
    print("RESULT " + orjson.dumps(value).decode())


def seed() -> None:
    """The synthetic cloud's snapshot as refresh_cloud stores it, and its first rebuild."""
    from topology import services

    cloud, _ = synthetic_cloud(**SHAPE)
    services.store_snapshot(cloud, "synthetic")
    emit({"revision": services.rebuild_graph().revision})


def admin_session() -> None:
    """An admin's session in the stack's session store (as the login view makes it)."""
    from django.conf import settings

    from tests.browser import caller, session_for

    key = session_for(caller("admin", "admin-project", admin=True, minutes=240))
    emit({"cookie": settings.SESSION_COOKIE_NAME, "key": key})


def markers_of_report(report: JsonDict) -> list[str]:
    return sorted(str(i.get("name")) for i in report.get("interfaces", []) if str(i.get("name", "")).startswith("mk"))


def node_key(node: JsonDict) -> str:
    return str(node["id"])


def edge_key(edge: JsonDict) -> bytes:
    return orjson.dumps(edge, option=orjson.OPT_SORT_KEYS)


def state() -> None:
    """The stored revision; each host's markers in its stored report and in the stored graph; and
    whether the stored graph is a cold join of the stored inputs (the snapshot and every report)."""
    from topology.graphservice.writer import mark_stale_nodes
    from topology.join import join
    from topology.models import CloudSnapshot, GraphState, HostReport
    from topology.services import stale_now

    stored = GraphState.objects.the_row().first()
    graph = stored.graph if stored is not None else {"nodes": [], "edges": []}
    reports = {row.host: row.report for row in HostReport.objects.all()}
    snapshot = CloudSnapshot.objects.latest_snapshot()
    cold = join(snapshot.data if snapshot else {}, reports)
    mark_stale_nodes(cold, stale_now())
    cold_dict = cold.to_dict()
    shown: dict[str, list[str]] = {host: [] for host in reports}
    for node in graph["nodes"]:
        match = MARKER_ID.match(node_key(node))
        if match:
            shown.setdefault(match.group(1), []).append(match.group(2))
    same_nodes = {node_key(n): n for n in graph["nodes"]} == {node_key(n): n for n in cold_dict["nodes"]}
    same_edges = sorted(map(edge_key, graph["edges"])) == sorted(map(edge_key, cold_dict["edges"]))
    emit(
        {
            "revision": stored.revision if stored else 0,
            "reported": {host: markers_of_report(report) for host, report in reports.items()},
            "shown": {host: sorted(markers) for host, markers in shown.items()},
            "cold": same_nodes and same_edges,
            "nodes": len(graph["nodes"]),
        }
    )
