"""Benchmark of "what changed before it broke" (``GET /api/v1/path/?...&since=1``) over 24 h of churn.

    .venv/bin/python -m bench.what_changed [--hosts 1000] [--ports 20000] [--per-day 2400] [--repeat 5] [--request]

On the synthetic cloud (bench/synthetic.py with bench/path.py's gateways and floating
IPs, joined by the real join), a VM's path to the outside is chosen (verdict ok), and
24 hours of revisions are made at the delta level on the joined graph (not by the join:
2,400 joins of this cloud take hours), each stored as topology.history.record stores
it (orjson, gzip -6), after one checkpoint (the graph before the window):

- ``--per-day`` revisions of background churn on random hosts, bench/history.py's mix:
  50 % an interface flipping UP/DOWN, 20 % a port flipping ACTIVE/DOWN, 20 % a VM's
  port added or removed (a copy of a VM port with its edges), 10 % a netns added or
  removed (with its host's edge); never a node the path's walk reads;
- every 5 minutes, each of the path's hosts reports (its host node's collected_at);
- every hour, the path's VM port renamed (a cloud refresh: the walk reads the port, the
  verdict holds, so each is a past walk);
- 23 hours back, the path's router's gateway cleared by "job 17 by demo" (the break: its
  gateway_network_id, its gateway edge and its gateway port with the port's edges gone).

Timed, ``--repeat`` times: what the API does for ``since=1`` after reading the rows from
the database (not timed: a read of the 24 h of rows, ~1 MB): gunzip + orjson of every
delta, indexing them (topology.history.changes.History), and since_in (the walk back,
the past explanations, the changes listed). The current indexed graph (Topo) is
built once per revision by the API already and is not timed.

With ``--request``, the WHOLE request is timed instead: a scratch SQLite file
(var/bench-what-changed.sqlite3, migrated) holds the current graph (GraphState, stored by
part), the hosts' reports (HostReport) and the history rows (revision 1 the checkpoint,
gzip -1, then the 3,001 deltas), and ``GET /api/v1/path/?src=...&dst=...&since=1`` is asked
through Django's test client as a logged-in admin (session cookie). "cold" is the first
request of this fresh process (the graph assembled from its parts and indexed, the rows read,
the answer). Then, round by round in a rotating order (A/B interleaved in one process), a new
revision is committed (one background change: the graph's parts stored again, the state, its
history row; not timed) and the request is timed with the explainer's graph had three ways:
"built as before" (main's indexed_graph: the parts assembled and indexed, the cyclic GC running),
"built, GC paused" (topology/path_graph.py built afresh) and "moved on" (the revision's delta
applied to the graph held, topology/path/topo_delta.py); and "history dropped": the history's
per-process keep dropped (topology/history/window.py: rows read and decoded, the checkpoint
gunzipped and searched again; the graph kept). "warm": the same request again right after each.
"""

from __future__ import annotations

import argparse
import copy
import os
import random
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import django
import orjson

REPO = Path(__file__).resolve().parent.parent
DB = REPO / "var" / "bench-what-changed.sqlite3"  # --request only: the in-memory mode reads no rows
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
os.environ["DATABASE_URL"] = f"sqlite:///{DB}"
KEY = REPO / "var" / "secret-key"
if "DJANGO_SECRET_KEY" not in os.environ and "DJANGO_SECRET_KEY_FILE" not in os.environ and KEY.exists():
    os.environ["DJANGO_SECRET_KEY_FILE"] = str(REPO / "var" / "secret-key")
django.setup()  # topology.history.changes reads GraphRevision rows (in memory unless --request)

from bench.path import OUTSIDE, add_gateways_and_fips  # noqa: E402
from bench.synthetic import synthetic_cloud  # noqa: E402
from topology import graph as g  # noqa: E402
from topology.history.change_text import headline  # noqa: E402
from topology.history.changes import History, since_in, topo_at  # noqa: E402
from topology.history.delta import DELTA_GZIP_LEVEL, apply_delta, as_graph, decode, encode, indexed  # noqa: E402
from topology.join import join  # noqa: E402
from topology.path import Topo  # noqa: E402
from topology.path.explain import explain_endpoints  # noqa: E402
from topology.path.model import Probe  # noqa: E402
from topology.path.resolve import as_source, resolve  # noqa: E402

JsonDict = dict[str, Any]
Row = tuple[int, datetime, list[JsonDict], bytes]
TARGET_S = 1.0
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


def what_changed(topo: Topo, rows: list[Row], blob: bytes, src: str, now: datetime) -> tuple[float, JsonDict]:
    started = time.perf_counter()
    loaded = [(r, at, causes, decode(gz)) for r, at, causes, gz in rows]
    history = History(1, loaded, blob)  # type: ignore[arg-type]
    source, target, probe = path_ends(topo, src)
    since = since_in(topo, history, source, target, probe, rows[-1][0], now)
    return time.perf_counter() - started, since


def store(graph: JsonDict, reports: dict[str, JsonDict], checkpoint: bytes, rows: list[Row], now: datetime) -> None:
    """The scratch database as the service leaves it: the graph now, the reports, the history rows."""
    import gzip

    from django.core.management import call_command

    from topology.history.models import GraphRevision
    from topology.models import GRAPH_STATE_ID, GraphState, HostReport

    for suffix in ("", "-wal", "-shm"):
        Path(f"{DB}{suffix}").unlink(missing_ok=True)
    call_command("migrate", verbosity=0)
    state = GraphState(id=GRAPH_STATE_ID, revision=rows[-1][0], generated_at=rows[-1][1])  # as the writer records it
    state.graph = graph
    state.save()
    HostReport.objects.bulk_create(
        HostReport(host=host, collected_at=now, received_at=now, size=len(orjson.dumps(report)), report=report)
        for host, report in reports.items()
    )
    empty = encode(empty_delta(), DELTA_GZIP_LEVEL)
    cp = gzip.compress(checkpoint, compresslevel=1)
    start = rows[0][1] - timedelta(minutes=1)
    GraphRevision.objects.create(revision=1, at=start, delta_gz=empty, checkpoint_gz=cp, size=len(cp))
    GraphRevision.objects.bulk_create(
        (GraphRevision(revision=r, at=at, causes=causes, delta_gz=gz, size=len(gz)) for r, at, causes, gz in rows),
        batch_size=500,
    )


def whole_request(
    churn: Churn,
    graph: JsonDict,
    reports: dict[str, JsonDict],
    blob: bytes,
    rows: list[Row],
    src: str,
    repeat: int,
    profile: bool = False,
) -> None:
    """``--request``: the API's answer timed through Django's test client, cold, dropped and warm."""
    from urllib.parse import urlencode

    from django.conf import settings
    from django.test import Client
    from django.utils import timezone

    from tests.browser import caller, session_for
    from topology import path_graph
    from topology.history import window

    now = timezone.now()
    shift = now - rows[-1][1] - timedelta(minutes=1)  # the day ends a minute ago
    rows = [(r, at + shift, causes, gz) for r, at, causes, gz in rows]
    store(graph, reports, blob, rows, now)
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = session_for(caller("admin", "admin-project", admin=True))
    url = "/api/v1/path/?" + urlencode({"src": src, "dst": OUTSIDE, "probe": "icmp", "since": "1"})

    def timed() -> tuple[float, JsonDict]:
        started = time.perf_counter()
        response = client.get(url)
        seconds = time.perf_counter() - started
        assert response.status_code == 200, (response.status_code, response.content[:300])
        return seconds, response.json()

    if profile:  # the cold request under cProfile (its figures are cProfile's, not the timed ones)
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        cold, body = timed()
        profiler.disable()
        print(f"cold request under cProfile: {cold:.2f} s")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
        return
    cold, body = timed()
    times: dict[str, list[float]] = {kind: [] for kind in (*REVISION_KINDS, "history dropped", "warm")}
    for round_ in range(repeat):
        kinds = [*REVISION_KINDS, "history dropped"]
        for kind in kinds[round_ % len(kinds) :] + kinds[: round_ % len(kinds)]:  # the order rotates
            if kind == "history dropped":  # the history's rows, checkpoint and index dropped, the graph kept
                window.forget()
                times[kind].append(timed()[0])
            else:
                new_revision(churn)  # a revision committed (not timed): the graph stored, its history row
                with explainer_graph(kind):
                    times[kind].append(timed()[0])
                assert path_graph.current_indexed().how == ("moved" if kind == MOVED else "built")
            times["warm"].append(timed()[0])
    since = body["since"]
    print(f"answer: verdict {body['verdict']}; headline: {since.get('headline')}")
    print(f"since: {since['walks']} past walks, {len(since['changes'])} changes, in force {len(since['in_force'])}")
    print(f"whole request GET /api/v1/path/?...&since=1, {repeat} rounds interleaved (load average at the end):")
    print(f"  cold (first of the process, the explainer's graph built, GC paused): {cold:.2f} s")
    for kind, values in times.items():
        print(f"  {kind}: median {statistics.median(values):.3f} s, max {max(values):.3f} s")
    print(f"  (target <= {TARGET_S:.0f} s; load average {os.getloadavg()[0]:.1f})")


# After a new revision, the explainer's graph: as main built it (before: the parts assembled and indexed,
# the GC running), built afresh with the GC paused, or moved on by the revision's delta (topology/path_graph.py).
BEFORE, BUILT, MOVED = "new revision: built as before", "new revision: built, GC paused", "new revision: moved on"
REVISION_KINDS = (BEFORE, BUILT, MOVED)


def new_revision(churn: Churn) -> None:
    """One more revision as the graph service commits it: the graph's parts, the state, its history row."""
    from django.utils import timezone

    from topology.graphservice.store import replace_graph
    from topology.history.models import GraphRevision
    from topology.models import GraphState

    delta = churn.background()
    state = GraphState.objects.get(id=1)
    state.revision += 1
    state.generated_at = timezone.now()
    replace_graph(as_graph(churn.nodes, churn.edges), state.revision)
    state.save()
    gz = encode(delta, DELTA_GZIP_LEVEL)
    GraphRevision.objects.create(
        revision=state.revision, at=state.generated_at, causes=[{"kind": "cloud"}], delta_gz=gz, size=len(gz)
    )


@contextmanager
def explainer_graph(kind: str) -> Iterator[None]:
    """How the next request gets its indexed graph (``kind``: one of REVISION_KINDS)."""
    from topology import path_graph
    from topology.graphservice.store import forget_assembled

    if kind == MOVED:
        yield
        return
    path_graph.forget()
    forget_assembled()
    if kind == BUILT:
        yield
        return

    def as_before() -> path_graph.Indexed:  # topology/api_path.py's indexed_graph() on main
        from topology import services

        state = services.graph_state()
        key = (state.revision, state.generated_at.isoformat() if state.generated_at else "")
        return path_graph.Indexed(key, Topo(state.graph, {}), "built", state.graph)

    path_graph.built, kept = as_before, path_graph.built
    try:
        yield
    finally:
        path_graph.built = kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--ports", type=int, default=20000)
    parser.add_argument("--projects", type=int, default=500)
    parser.add_argument("--network-nodes", type=int, default=3)
    parser.add_argument("--per-day", type=int, default=2400)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--request", action="store_true", help="time the whole API request (scratch SQLite)")
    parser.add_argument("--profile", action="store_true", help="with --request: the cold request under cProfile")
    args = parser.parse_args()
    cloud, reports = synthetic_cloud(args.hosts, args.ports, args.projects, args.network_nodes)
    add_gateways_and_fips(cloud, reports)
    graph: JsonDict = join(cloud, reports).to_dict()
    src, read = choose_path(graph, reports)
    blob = orjson.dumps(graph)  # the checkpoint's bytes, gunzipped
    now = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
    churn = Churn(graph, read, args.seed)
    rows = make_day(churn, read, args.per_day, now)
    topo = Topo(as_graph(churn.nodes, churn.edges), reports)
    stored = sum(len(r[3]) for r in rows)
    print(
        f"cloud: {args.hosts} hosts, {args.ports} ports; graph {len(graph['nodes'])} nodes, {len(graph['edges'])} "
        f"edges; path {src} -> {OUTSIDE} reads {len(read)} nodes; {len(rows)} revisions in 24 h "
        f"({stored / 1e6:.2f} MB of deltas)"
    )
    if args.request:
        whole_request(churn, as_graph(churn.nodes, churn.edges), reports, blob, rows, src, args.repeat, args.profile)
        return
    times: list[float] = []
    since: JsonDict = {}
    for _ in range(args.repeat):
        seconds, since = what_changed(topo, rows, blob, src, now)
        times.append(seconds)
    found = since["verdict_since"] or {}
    print(
        f"since: verdict {since['verdict']}, since revision {found.get('revision')} ({found.get('at')}, was "
        f"{found.get('was')}); {since['walks']} past walks; {len(since['changes'])} changes listed"
    )
    print(f"first change named: {since['changes'][-1]['change'] if since['changes'] else None}")
    print(f"headline: {headline(since)}")
    median = statistics.median(times)
    print(
        f"what changed (decode + index + walk back), {args.repeat} runs: median {median:.3f} s, max {max(times):.3f} s "
        f"(target <= {TARGET_S:.0f} s: {median / TARGET_S:.2f}x; load average {os.getloadavg()[0]:.1f})"
    )


if __name__ == "__main__":
    main()
