"""24 hours of churn at the delta level on a joined graph, for the history benches (bench/what_changed.py)
and their tests: background changes on random hosts (bench/history.py's mix), the path's hosts reporting,
the path's port renamed every hour, and one break (the router's gateway cleared by a job).
"""

from __future__ import annotations

import copy
import random
from datetime import datetime, timedelta
from typing import Any

from bench.path import OUTSIDE
from topology import graph as g
from topology.history.changes import History, topo_at
from topology.history.delta import DELTA_GZIP_LEVEL, apply_delta, encode, indexed
from topology.path import Topo
from topology.path.explain import explain_endpoints
from topology.path.model import Probe
from topology.path.resolve import as_source, resolve

JsonDict = dict[str, Any]
Row = tuple[int, datetime, list[JsonDict], bytes]
JOB = [{"kind": "job", "job": 17, "user": "demo", "project": "demo"}]


def empty_delta() -> g.Delta:
    return {
        "added": {"nodes": [], "edges": []},
        "removed": {"nodes": [], "edges": []},
        "changed": {"nodes": [], "edges": []},
    }


class Churn:
    """The graph moved on one delta at a time; each delta kept as stored."""

    def __init__(self, graph: JsonDict, avoid: set[str], seed: int) -> None:
        self.nodes, self.edges = indexed(graph)
        self.avoid = avoid
        self.rng = random.Random(seed)
        self.by_kind: dict[str, list[str]] = {}
        for node_id, node in self.nodes.items():
            if node_id not in avoid:
                self.by_kind.setdefault(node["kind"], []).append(node_id)
        self.vm_ports = [
            p for p in self.by_kind["port"] if self.nodes[p]["attrs"].get("device_owner") == "compute:nova"
        ]
        self.incident: dict[str, list[JsonDict]] = {}
        self.clones: dict[str, tuple[str, list[JsonDict]]] = {}  # clone id -> (kind, its edges)
        self.n = 0

    def edges_of(self, node_id: str) -> list[JsonDict]:
        if node_id not in self.incident:
            self.incident[node_id] = [e for e in self.edges.values() if node_id in (e["source"], e["target"])]
        return self.incident[node_id]

    def apply(self, delta: g.Delta) -> g.Delta:
        apply_delta(self.nodes, self.edges, delta)
        return delta

    def changed(self, node_id: str, change: Any) -> g.Delta:
        node = copy.deepcopy(self.nodes[node_id])
        change(node)
        delta = empty_delta()
        delta["changed"]["nodes"].append(node)
        return self.apply(delta)

    def flip_state(self, kind: str, key: str, up: str, down: str) -> g.Delta:
        node_id = self.rng.choice(self.by_kind[kind])

        def flip(node: JsonDict) -> None:
            where = node["attrs"] if key == "state" else node
            where[key] = down if where.get(key) == up else up

        return self.changed(node_id, flip)

    def toggle_clone(self, kind: str, templates: list[str]) -> g.Delta:
        """Add a copy of a template node with its edges (a VM's port, a netns), or remove an earlier copy."""
        self.n += 1
        delta = empty_delta()
        mine = [c for c, (k, _) in self.clones.items() if k == kind]
        if mine and self.rng.random() < 0.5:
            clone = self.rng.choice(mine)
            _, edges = self.clones.pop(clone)
            delta["removed"]["nodes"].append(clone)
            delta["removed"]["edges"].extend(edges)
            return self.apply(delta)
        template = self.rng.choice(templates)
        clone = f"{template}-churn{self.n}"
        node = {**copy.deepcopy(self.nodes[template]), "id": clone}
        edges = [
            {
                **e,
                "source": clone if e["source"] == template else e["source"],
                "target": clone if e["target"] == template else e["target"],
            }
            for e in self.edges_of(template)
            if kind != "netns" or g.id_kind(e["source"]) == "host"
        ]
        self.clones[clone] = (kind, edges)
        delta["added"]["nodes"].append(node)
        delta["added"]["edges"].extend(edges)
        return self.apply(delta)

    def background(self) -> g.Delta:
        kind = self.rng.choices(["iface", "port", "vm", "netns"], weights=[50, 20, 20, 10])[0]
        if kind == "iface":
            return self.flip_state("iface", "state", "UP", "DOWN")
        if kind == "port":
            return self.flip_state("port", "status", "ACTIVE", "DOWN")
        if kind == "vm":
            return self.toggle_clone("vm", self.vm_ports)
        return self.toggle_clone("netns", self.by_kind["netns"])


def path_ends(topo: Topo, src: str) -> tuple[Any, Any, Probe]:
    source = as_source(topo, resolve(topo, src))
    return source, resolve(topo, OUTSIDE, near=source), Probe.parse("icmp")


def choose_path(graph: JsonDict, reports: dict[str, JsonDict]) -> tuple[str, set[str]]:
    """A VM whose path to the outside is ok, and the node ids its walk reads."""
    topo = Topo(graph, reports)
    for server in sorted(n["id"] for n in graph["nodes"] if n["kind"] == "server")[:50]:
        source, target, probe = path_ends(topo, server)
        read: set[str] = set()
        result = explain_endpoints(topo_at(topo, History(0, [], b""), 0, read), source, target, probe)
        if result["verdict"] == "ok":
            return server, read
    raise SystemExit("no VM of the synthetic cloud reaches the outside")


def renamed(churn: Churn, port: str, hour: int) -> g.Delta:
    """The path's port renamed (a cloud refresh): read by the walk, the verdict holds."""
    return churn.changed(port, lambda node: node["attrs"].update(name=f"renamed-{hour}"))


def gateway_cleared(churn: Churn, router: str) -> g.Delta:
    node = copy.deepcopy(churn.nodes[router])
    node["attrs"]["gateway_network_id"] = None
    delta = empty_delta()
    delta["changed"]["nodes"].append(node)
    delta["removed"]["edges"].extend(e for e in churn.edges_of(router) if e["kind"] == "gateway")
    for node_id, port in churn.nodes.items():  # Neutron deletes the router's gateway port with it
        attrs = port.get("attrs") or {}
        if attrs.get("device_owner") == "network:router_gateway" and attrs.get("device_id") == g.id_key(router):
            delta["removed"]["nodes"].append(node_id)
            delta["removed"]["edges"].extend(e for e in churn.edges_of(node_id) if e not in delta["removed"]["edges"])
    return churn.apply(delta)


def make_day(churn: Churn, read: set[str], per_day: int, now: datetime) -> list[Row]:
    """The 24 h of revisions after the checkpoint (revision 1), oldest first."""
    start = now - timedelta(hours=24)
    events: list[tuple[float, str, Any]] = [(i * 86400 / per_day, "churn", None) for i in range(per_day)]
    hosts = sorted({h for h in read if h.startswith("host:")})
    events += [(m * 300.0 + 7 + k, "report", h) for m in range(288) for k, h in enumerate(hosts)]
    port = next(
        i
        for i in sorted(read)
        if i.startswith("port:") and churn.nodes[i]["attrs"].get("device_owner") == "compute:nova"
    )
    events += [(h * 3600.0 + 1800, "rule", h) for h in range(24)]
    router = next(i for i in sorted(read) if i.startswith("router:"))
    events.append((3600.0 + 60, "break", router))
    rows: list[Row] = []
    for seconds, what, arg in sorted(events, key=lambda e: e[0]):
        causes: list[JsonDict]
        if what == "churn":
            delta, causes = churn.background(), [{"kind": "report", "host": "compute"}]
        elif what == "report":
            stamp = f"{seconds:.0f}"
            delta = churn.changed(arg, lambda n, stamp=stamp: n["attrs"].update(collected_at=stamp))
            causes = [{"kind": "report", "host": g.id_key(arg)}]
        elif what == "rule":
            delta, causes = renamed(churn, port, arg), [{"kind": "cloud"}]
        else:
            delta, causes = gateway_cleared(churn, arg), [{"kind": "cloud"}, *JOB]
        rows.append((len(rows) + 2, start + timedelta(seconds=seconds), causes, encode(delta, DELTA_GZIP_LEVEL)))
    return rows
