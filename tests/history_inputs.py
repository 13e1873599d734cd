"""The graph service's real inputs for the history and metrics tests: a synthetic cloud stored and re-joined."""

from __future__ import annotations

import copy
from typing import Any

import orjson

from bench.synthetic import synthetic_cloud
from topology import services
from topology.models import GraphState, HostReport

JsonDict = dict[str, Any]


class Inputs:
    """A synthetic cloud and its hosts' reports, stored as the collector and the agents store them."""

    def __init__(self, hosts: int = 3, ports: int = 12, projects: int = 2) -> None:
        cloud, reports = synthetic_cloud(hosts, ports, projects, 1)
        self.cloud: JsonDict = copy.deepcopy(cloud)
        self.reports: dict[str, JsonDict] = copy.deepcopy(reports)

    def store_cloud(self) -> None:
        services.store_snapshot(copy.deepcopy(self.cloud), "synthetic", api_calls=9, duration=0.1)

    def store_reports(self, hosts: set[str] | None = None) -> None:
        for host in sorted(self.reports if hosts is None else hosts):
            if host in self.reports:
                report = copy.deepcopy(self.reports[host])
                services.store_report(host, report, len(orjson.dumps(report)))
            else:
                HostReport.objects.filter(host=host).delete()

    def store_all(self) -> None:
        self.store_cloud()
        self.store_reports()


def rebuild() -> tuple[int, JsonDict]:
    """services.rebuild_graph(), and the revision and graph then current (a copy)."""
    services.rebuild_graph()
    state = GraphState.objects.get(id=1)
    return state.revision, copy.deepcopy(state.graph)


def owned_ids(inputs: Inputs, project: str) -> set[str]:
    """The uuids of ``project``'s Neutron and Nova objects in the synthetic cloud."""
    return {
        obj["id"]
        for objects in inputs.cloud.values()
        if isinstance(objects, list)
        for obj in objects
        if isinstance(obj, dict) and obj.get("project_id") == project and "id" in obj
    }
