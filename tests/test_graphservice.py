"""The graph service's writer against a cold join: graph, delta and stored parts, change after change.

For each synthetic cloud (and seed), a sequence of changes goes through the database
as ingest and the cloud refresh store them (one host's report changes, a host stops
reporting and comes back, a port is bound elsewhere, a cloud change, a fuzzed report,
a host turning stale, a writer restart); after each, the writer's graph is a cold join
of the same inputs (same nodes and edges, same order), the delta it published is
``g.diff`` of the previous and the new graph, and the parts stored assemble into it,
only the parts that changed being rewritten. A start with no stored graph publishes no delta
but a reset, and records its revision as a reset row (the whole graph as a checkpoint, no delta).
"""

from __future__ import annotations

import copy
import gzip
import random
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import orjson
import pytest
from django.utils import timezone

from bench.synthetic import synthetic_cloud, uid
from topology import graph as g
from topology import services
from topology.freshness import mark_stale
from topology.graphservice import GraphWriter
from topology.graphservice.parts import node_part
from topology.graphservice.store import assembled_graph, stored_fragments
from topology.history.delta import canonical, decode
from topology.history.models import GraphRevision
from topology.join import JoinCache, join_cold
from topology.models import GraphPart, GraphState, HostReport
from topology.scope import VIEWS, scope_graph

JsonDict = dict[str, Any]
GraphDict = dict[str, list[Any]]
Published = list[tuple[int, g.Delta | None]]  # None: a reset published (the graph written whole, no delta)
pytestmark = pytest.mark.django_db


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> Iterator[Published]:
    """The deltas the writer publishes (through services.publish_delta, the real one still called), and
    its resets (services.publish_reset) as None."""
    seen: Published = []
    real, real_reset = services.publish_delta, services.publish_reset

    def record(revision: int, delta: g.Delta) -> None:
        seen.append((revision, copy.deepcopy(delta)))
        real(revision, delta)

    def record_reset(revision: int) -> None:
        seen.append((revision, None))
        real_reset(revision)

    monkeypatch.setattr(services, "publish_delta", record)
    monkeypatch.setattr(services, "publish_reset", record_reset)
    yield seen


def store_cloud(cloud: JsonDict) -> None:
    services.store_snapshot(cloud, "synthetic")


def store_report(host: str, report: JsonDict) -> None:
    services.store_report(host, report, len(orjson.dumps(report)))


def stored_parts() -> dict[str, tuple[int, bytes]]:
    return {key: (rev, bytes(body)) for key, rev, body in GraphPart.objects.values_list("key", "revision", "body")}


def by_id(graph: GraphDict) -> tuple[list[Any], list[Any]]:
    nodes = sorted(graph["nodes"], key=lambda n: n["id"])
    edges = sorted(graph["edges"], key=lambda e: (e["source"], e["target"], e["kind"]))
    return nodes, edges


class Run:
    """The inputs as stored, the writer, and the checks after each change."""

    def __init__(self, cloud: JsonDict, reports: dict[str, JsonDict], published: Published) -> None:
        self.cloud, self.reports, self.published = cloud, dict(reports), published
        self.stale: dict[str, str] = {}
        self.writer, self.cache = GraphWriter(), JoinCache()
        self.previous: GraphDict = {"nodes": [], "edges": []}
        store_cloud(cloud)
        for host, report in reports.items():
            store_report(host, report)

    def expected(self) -> GraphDict:
        return mark_stale(join_cold(copy.deepcopy(self.cloud), copy.deepcopy(self.reports)).to_dict(), self.stale)

    def apply_and_check(
        self, hosts: tuple[str, ...] = (), cloud: bool = False, everything: bool = False, stored_order: bool = False
    ) -> None:
        """``stored_order``: a delta made by a sync lists what it removed in the stored parts' order
        (logical, hosts, cross), not in the cold join's (a synced writer has no other; main's writer did
        the same): its removed nodes and edges are compared as sets, the rest exactly."""
        before = stored_parts()
        revision = GraphState.objects.the_row().values_list("revision", flat=True).first() or 0
        published = len(self.published)
        state = self.writer.apply(self.cache, hosts=hosts, cloud=cloud, everything=everything)
        cold = self.expected()
        # the writer's graph is the cold join's, in the same order
        assert list(self.writer.nodes.values()) == cold["nodes"]
        assert [{"source": s, "target": t, "kind": k} for s, t, k in self.writer.edges] == cold["edges"]
        delta = g.diff(self.previous, cold)
        # no stored graph (a first start): a reset, never a delta of the whole graph
        assert self.writer.last.reset == (self.writer.last.synced and not before and state.revision != revision)
        if self.writer.last.reset:
            assert state.revision == revision + 1 and self.published[-1] == (state.revision, None)
            self.check_reset_row(state.revision, cold)
        elif g.is_empty(delta) and revision:
            assert state.revision == revision and len(self.published) == published
        else:
            assert state.revision == revision + 1
            seen_revision, seen = self.published[-1]
            assert seen is not None  # a delta, not a reset
            if stored_order and self.writer.last.synced:
                removed = seen["removed"]
                seen = {
                    **seen,
                    "removed": {"nodes": sorted(removed["nodes"]), "edges": sorted(removed["edges"], key=edge_order)},
                }
                delta["removed"]["nodes"].sort()
                delta["removed"]["edges"].sort(key=edge_order)
            assert (seen_revision, seen) == (state.revision, delta)
        # the parts stored assemble into it; only those whose content changed were written
        assert by_id(assembled_graph((state.revision, state.generated_at))) == by_id(cold)
        after = stored_parts()
        rewritten = {key for key, (rev, _) in after.items() if rev == state.revision and state.revision != revision}
        body = lambda parts, key: parts.get(key, (0, b""))[1]  # noqa: E731
        changed = {key for key in before.keys() | after.keys() if body(before, key) != body(after, key)}
        assert rewritten | (before.keys() - after.keys()) == changed
        # an admin's views are the parts' fragments joined: the assembled graph scoped, in its order
        assembled = assembled_graph((state.revision, state.generated_at))
        assert stored_fragments() is not None
        for view in VIEWS:
            body = orjson.loads(gzip.decompress(services.serialize_view(state, view, None)))
            at = state.generated_at.isoformat() if state.generated_at else None
            assert body == {"revision": state.revision, "generated_at": at, **scope_graph(assembled, view, None)}
        # each node in the part it belongs to (a port bound elsewhere moved with its binding)
        assert all(node_part(n) == key for key, (_, body) in after.items() for n in orjson.loads(body)["nodes"])
        self.previous = cold

    def check_reset_row(self, revision: int, cold: GraphDict) -> None:
        """The history row of a reset: no delta, the whole graph as its checkpoint, the reset as its cause."""
        row = GraphRevision.objects.get(revision=revision)
        assert row.reset and bytes(row.delta_gz) == b"" and row.causes == [{"kind": "reset"}]
        assert canonical(decode(row.checkpoint_gz or b"")) == canonical(cold)
        assert (row.added_nodes, row.added_edges, row.removed_nodes, row.changed_nodes) == (
            len(cold["nodes"]),
            len(cold["edges"]),
            0,
            0,
        )


def current_revision() -> int | None:
    return GraphState.objects.the_row().values_list("revision", flat=True).first()


def edge_order(edge: g.Edge) -> tuple[str, str, str]:
    return edge["source"], edge["target"], edge["kind"]


Change = Callable[[Run, random.Random], tuple[tuple[str, ...], bool]]


def report_flips_a_tap(run: Run, rnd: random.Random) -> tuple[tuple[str, ...], bool]:
    host = rnd.choice(sorted(run.reports))
    report = copy.deepcopy(run.reports[host])
    iface = rnd.choice(report["interfaces"])
    iface["state"] = "DOWN" if iface.get("state") != "DOWN" else "UP"
    report["collected_at"] = timezone.now().isoformat()
    run.reports[host] = report
    store_report(host, report)
    return (host,), False


def report_loses_a_device(run: Run, rnd: random.Random) -> tuple[tuple[str, ...], bool]:
    host = rnd.choice(sorted(run.reports))
    report = copy.deepcopy(run.reports[host])
    if report["interfaces"]:
        del report["interfaces"][rnd.randrange(len(report["interfaces"]))]
    report["namespaces"].append({"name": f"qdhcp-{uid('net', 'unknown', rnd.random())}", "interfaces": []})
    run.reports[host] = report
    store_report(host, report)
    return (host,), False


def host_stops_reporting(run: Run, rnd: random.Random) -> tuple[tuple[str, ...], bool]:
    host = rnd.choice(sorted(run.reports))
    HostReport.objects.filter(host=host).delete()
    del run.reports[host]
    return (host,), False


def port_bound_elsewhere(run: Run, rnd: random.Random) -> tuple[tuple[str, ...], bool]:
    cloud = copy.deepcopy(run.cloud)
    port = rnd.choice([p for p in cloud["ports"] if p.get("binding:host_id")])
    hosts = sorted({p["binding:host_id"] for p in cloud["ports"] if p.get("binding:host_id")})
    port["binding:host_id"] = rnd.choice(hosts)
    port["status"] = rnd.choice(["ACTIVE", "DOWN", "BUILD"])
    run.cloud = cloud
    store_cloud(cloud)
    return (), True


def cloud_loses_a_port_gains_a_network(run: Run, rnd: random.Random) -> tuple[tuple[str, ...], bool]:
    cloud = copy.deepcopy(run.cloud)
    del cloud["ports"][rnd.randrange(len(cloud["ports"]))]
    cloud["networks"].append({**cloud["networks"][-1], "id": uid("net", "new", rnd.random()), "name": "new"})
    run.cloud = cloud
    store_cloud(cloud)
    return (), True


def fuzzed_report(run: Run, rnd: random.Random) -> tuple[tuple[str, ...], bool]:
    """Random pieces of a report dropped or duplicated (kept only if a cold join still joins it)."""
    host = rnd.choice(sorted(run.reports))
    report = copy.deepcopy(run.reports[host])
    for _ in range(rnd.randint(1, 6)):
        lists = list(json_lists(report))
        if not lists:
            break
        target = rnd.choice(lists)
        if target and rnd.random() < 0.6:
            del target[rnd.randrange(len(target))]
        elif target:
            target.append(copy.deepcopy(rnd.choice(target)))
    quarantined = [
        n for n in join_cold(run.cloud, {**run.reports, host: report}).nodes.values() if "could not be joined" in str(n)
    ]
    if quarantined:  # a cached join keeps the last good part instead: not a cold join's graph, by design
        return (), False
    run.reports[host] = report
    store_report(host, report)
    return (host,), False


def json_lists(value: Any) -> Iterator[list[Any]]:
    if isinstance(value, list):
        yield value
        for item in value:
            yield from json_lists(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from json_lists(item)


CHANGES: list[Change] = [
    report_flips_a_tap,
    report_loses_a_device,
    fuzzed_report,
    host_stops_reporting,
    port_bound_elsewhere,
    cloud_loses_a_port_gains_a_network,
]


@pytest.mark.parametrize(
    ("seed", "shape"),
    [
        (1, {"hosts": 4, "ports": 12, "projects": 2, "network_nodes": 2, "tunnel_peers": 2}),
        (2, {"hosts": 6, "ports": 30, "projects": 3, "network_nodes": 1, "tunnel_peers": 4}),
        (3, {"hosts": 3, "ports": 8, "projects": 1, "network_nodes": 1, "tunnel_peers": 2}),
        (4, {"hosts": 8, "ports": 40, "projects": 4, "network_nodes": 2, "tunnel_peers": 6}),
    ],
)
def test_the_writer_is_a_cold_join_change_after_change(seed: int, shape: dict[str, int], published: Published) -> None:
    rnd = random.Random(seed)
    cloud, reports = synthetic_cloud(**shape)
    run = Run(cloud, reports, published)
    run.apply_and_check(everything=True)
    gone: dict[str, JsonDict] = {}
    for step in range(14):
        change = CHANGES[step % len(CHANGES)] if step < len(CHANGES) else rnd.choice(CHANGES)
        before = set(run.reports)
        hosts, cloud_changed = change(run, rnd)
        gone.update({host: reports[host] for host in before - set(run.reports)})
        run.apply_and_check(hosts=hosts, cloud=cloud_changed)
        if gone and step % 4 == 3:  # a host that stopped reporting comes back
            host, report = gone.popitem()
            run.reports[host] = report
            store_report(host, report)
            run.apply_and_check(hosts=(host,))
    # a host turns stale: no report arrives, the refresh ("everything") marks it
    host = sorted(run.reports)[0]
    long_ago = timezone.now() - timedelta(days=1)
    HostReport.objects.filter(host=host).update(received_at=long_ago)
    run.stale = {host: long_ago.replace(microsecond=0).isoformat()}
    run.apply_and_check(everything=True)
    # a writer restarts: it syncs from the stored graph and inputs, and nothing changed
    run.writer, run.cache = GraphWriter(), JoinCache()
    run.apply_and_check(everything=True)
    assert run.writer.last.synced and not run.writer.last.changed


def test_a_writer_notices_another_writers_revision_and_syncs(published: Published) -> None:
    cloud, reports = synthetic_cloud(hosts=4, ports=12, projects=2, network_nodes=1, tunnel_peers=2)
    run = Run(cloud, reports, published)
    run.apply_and_check(everything=True)
    first = run.writer
    run.writer = GraphWriter()  # another process's writer applies a report
    report_flips_a_tap(run, random.Random(5))
    run.apply_and_check(everything=True)
    run.writer = first  # the first writer's next apply syncs before it joins
    hosts, _ = report_loses_a_device(run, random.Random(6))
    run.apply_and_check(hosts=hosts)
    assert first.last.synced and first.last.changed


def test_a_report_applied_reads_only_that_hosts_row(published: Published) -> None:
    cloud, reports = synthetic_cloud(hosts=6, ports=20, projects=2, network_nodes=1, tunnel_peers=2)
    run = Run(cloud, reports, published)
    run.apply_and_check(everything=True)
    assert run.writer.last.rows_read == len(reports)
    hosts, _ = report_flips_a_tap(run, random.Random(7))
    run.apply_and_check(hosts=hosts)
    assert run.writer.last.rows_read == 1
    assert run.writer.last.written.rows < len(stored_parts())
    assert run.cache.rebuilt_hosts == list(hosts) and not run.cache.rebuilt_logical


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_writers_taking_turns_sync_from_the_stored_graph_to_a_cold_join(seed: int, published: Published) -> None:
    """Two writers (each with its own cache, as two processes) apply in turns, after one or two changes
    each: every apply after the other's syncs, its delta made from the stored parts read one by one
    (graphservice/resync.py), and holds no report whole once joined."""
    rnd = random.Random(seed)
    cloud, reports = synthetic_cloud(hosts=6, ports=30, projects=3, network_nodes=2, tunnel_peers=3)
    run = Run(cloud, reports, published)
    run.apply_and_check(everything=True)
    writers = [(run.writer, run.cache), (GraphWriter(), JoinCache())]
    known = [current_revision(), None]  # the revision each writer stored or synced from last
    syncs = 0
    for step in range(12):
        hosts: set[str] = set()
        cloud_changed = False
        for _ in range(rnd.choice([1, 2])):
            changed_hosts, changed_cloud = rnd.choice(CHANGES)(run, rnd)
            hosts.update(changed_hosts)
            cloud_changed = cloud_changed or changed_cloud
        run.writer, run.cache = writers[step % 2]
        behind = known[step % 2] != current_revision()
        run.apply_and_check(hosts=tuple(sorted(hosts)), cloud=cloud_changed, stored_order=True)
        known[step % 2] = current_revision()
        assert run.writer.last.synced == behind
        syncs += behind
        assert not run.writer.inputs.full  # every report kept slim once its part is made
    assert syncs >= 6
