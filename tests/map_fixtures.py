"""Graphs for the map tests that need no lab: the synthetic cloud, written as the current graph."""

from __future__ import annotations

import copy
from typing import Any

from django.utils import timezone

from bench.synthetic import synthetic_cloud, uid
from topology import graph as g
from topology import services
from topology.join import join
from topology.models import GraphState
from topology.scope import VIEWS

GraphDict = dict[str, list[Any]]


def synthetic_graph(hosts: int = 2, ports: int = 6, projects: int = 2) -> GraphDict:
    cloud, reports = synthetic_cloud(hosts, ports, projects, 1)
    return join(cloud, reports).to_dict()


def project_of(p: int) -> str:
    """The project id the synthetic cloud gives project number ``p``."""
    return uid("project", p).replace("-", "")


def publish_graph(new: GraphDict) -> int:
    """What ``services.rebuild_graph`` does with a joined graph: store it, bump the revision, publish."""
    state, _ = GraphState.objects.get_or_create(id=1)
    delta = g.diff(state.graph or {}, new)
    state.revision += 1
    state.generated_at = timezone.now()
    state.graph = copy.deepcopy(new)
    state.save()
    for view in VIEWS:
        services.store_view(state, view, None)
    services.publish_delta(state.revision, delta)
    return state.revision


def with_network(graph: GraphDict, uuid: str, name: str, project_id: str) -> GraphDict:
    out = copy.deepcopy(graph)
    out["nodes"].append({"id": f"network:{uuid}", "kind": "network", "label": name, "project_id": project_id,
                         "status": "ACTIVE", "attrs": {"name": name, "external": False, "shared": False,
                                                       "network_type": "vxlan", "segmentation_id": 999}})
    return out
