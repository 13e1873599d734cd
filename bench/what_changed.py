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
import os
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

from bench.history_churn import Churn, Row, choose_path, empty_delta, make_day, path_ends  # noqa: E402
from bench.path import OUTSIDE, add_gateways_and_fips  # noqa: E402
from bench.synthetic import synthetic_cloud  # noqa: E402
from topology.history.change_text import headline  # noqa: E402
from topology.history.changes import History, since_in  # noqa: E402
from topology.history.delta import DELTA_GZIP_LEVEL, as_graph, decode, encode  # noqa: E402
from topology.join import join  # noqa: E402
from topology.path import Topo  # noqa: E402

JsonDict = dict[str, Any]
TARGET_S = 1.0


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
