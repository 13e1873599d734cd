"""Benchmark of the graph service's writer: its cost per agent report and per cloud change.

    .venv/bin/python -m bench.graphservice [--hosts 100 1000] [--reports 5] [--clouds 3] [--only ab|after]

On the synthetic cloud of bench/synthetic.py (20 ports per host), a scratch SQLite file
(var/bench-graphservice.sqlite3), the inputs stored as ingest and the cloud refresh store them
(outside the timing), Redis for the published deltas (bin/redis, database 12). For each change, interleaved
in one process (the order alternating):

- before: main's ``services.rebuild_graph`` (code of main b06e343, copied below as
  :func:`rebuild_before`, with its own warm JoinCache, on its own GraphState row): every report
  read and parsed, the join, ``g.diff`` of the whole graphs, the whole graph written as one blob,
  the three admin views serialized and gzipped;
- after: ``graphservice.apply(hosts=[host])`` / ``apply(cloud=True)``: the changed rows read, the
  join by part, the delta by identity, the parts it touched rewritten.

Printed per apply: wall and CPU seconds, report rows read, rows and bytes written, the process's
RSS; then the first topology response of a revision (made on demand, in a web process) and the
writer's RSS. Targets (issue 13): 16.7 reports/s at 1,000 hosts (0.06 s per report), change ->
delta <= 1 s, writer memory <= 1 GB.
"""

from __future__ import annotations

import argparse
import copy
import functools
import gzip
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import psutil  # type: ignore[import-untyped]

REPO = Path(__file__).resolve().parent.parent
DB = REPO / "var" / "bench-graphservice.sqlite3"
BEFORE_STATE_ID = 2  # main's path writes its blob on a GraphState row of its own
JsonDict = dict[str, Any]


def setup_django(redis_url: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{DB}{suffix}").unlink(missing_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{DB}",
        "REDIS_URL": redis_url,
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
    }
    key = REPO / "var" / "secret-key"
    if "DJANGO_SECRET_KEY" not in env and "DJANGO_SECRET_KEY_FILE" not in env and key.exists():
        env["DJANGO_SECRET_KEY_FILE"] = str(key)
    subprocess.run([str(REPO / "bin" / "redis")], cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, check=True, env=env)
    os.environ.update(env)
    import django

    django.setup()


@dataclass
class Cost:
    wall: float
    cpu: float
    rows_read: int
    rows_written: int
    bytes_written: int
    rss_mb: float


def measured(run: Callable[[], tuple[int, int, int]]) -> Cost:
    started, started_cpu = time.perf_counter(), time.process_time()
    rows_read, rows, written = run()
    wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    return Cost(wall, cpu, rows_read, rows, written, psutil.Process().memory_info().rss / 1e6)


# --------------------------------------------------------------------------- before: main's path


def rebuild_before(cache: Any) -> tuple[int, int, int]:
    """main's services.rebuild_graph (current_inputs, join, mark_stale, diff, blob, three views)."""
    from datetime import timedelta

    from django.conf import settings
    from django.db import transaction
    from django.utils import timezone

    from topology import graph as g
    from topology import services
    from topology.freshness import mark_stale, stale_hosts
    from topology.join import InputDigests, join
    from topology.models import CloudSnapshot, GraphState, GraphView, HostReport
    from topology.scope import VIEWS, scope_graph

    snapshot = CloudSnapshot.objects.latest_snapshot()
    rows = list(HostReport.objects.all())
    digests = InputDigests(
        cloud=bytes.fromhex(snapshot.digest) if snapshot and snapshot.digest else None,
        reports={row.host: bytes.fromhex(row.digest) for row in rows if row.digest},
    )
    cloud, reports = (snapshot.data if snapshot else {}), {row.host: row.report for row in rows}
    received = dict(HostReport.objects.values_list("host", "received_at"))
    stale = stale_hosts(received, timezone.now(), timedelta(seconds=settings.HOST_STALE_SECONDS))
    with services.JOIN_LOCK:
        new = mark_stale(join(cloud, reports, cache=cache, digests=digests).to_dict(), stale)
    written = rows_written = 0
    with transaction.atomic():
        state, _ = GraphState.objects.select_for_update().get_or_create(id=BEFORE_STATE_ID)
        old = orjson.loads(bytes(state.graph_json) or b"{}")
        delta = g.diff(old, new)
        if g.is_empty(delta) and state.revision:
            return len(rows), 0, 0
        state.revision += 1
        state.generated_at = timezone.now()
        state.graph_json = orjson.dumps(new)
        state.save(update_fields=["revision", "generated_at", "graph_json"])
        written, rows_written = len(state.graph_json), 1
        for view in VIEWS:
            body = {
                "revision": state.revision,
                "generated_at": state.generated_at.isoformat(),
                **scope_graph(new, view, None),
            }
            gzipped = gzip.compress(orjson.dumps(body), compresslevel=1)
            GraphView.objects.update_or_create(
                view=view, scope="before", defaults={"revision": state.revision, "body_gzip": gzipped}
            )
            written, rows_written = written + len(gzipped), rows_written + 1
    services.publish_delta(state.revision, delta)
    return len(rows), rows_written, written


# --------------------------------------------------------------------------- after: the graph service


def apply_after(hosts: list[str] | None = None, cloud: bool = False) -> tuple[int, int, int]:
    from topology import graphservice

    graphservice.apply(hosts=hosts or (), cloud=cloud, everything=hosts is None and not cloud)
    last = graphservice.last_applied()
    return last.rows_read, last.written.rows, last.written.bytes


# --------------------------------------------------------------------------- changes


def flipped_tap(report: JsonDict, run: int) -> JsonDict:
    """The host's next report: newer, one tap's state flipped."""
    new = copy.deepcopy(report)
    new["collected_at"] = f"2026-12-02T09:{run // 60 % 60:02d}:{run % 60:02d}.5Z"
    taps = [i for i in new["interfaces"] if i["name"].startswith("tap")] or new["interfaces"]
    tap = taps[run % len(taps)]
    tap["state"] = "DOWN" if tap.get("state") == "UP" else "UP"
    return new


def store_report(host: str, report: JsonDict) -> None:
    from topology import services

    services.store_report(host, report, len(orjson.dumps(report)))


def store_cloud(cloud: JsonDict) -> None:
    """As services.refresh_cloud stores a snapshot: the one row replaced."""
    from topology import services

    services.store_snapshot(cloud, "synthetic")


def refreshed_cloud(cloud: JsonDict, run: int) -> JsonDict:
    new = copy.deepcopy(cloud)
    port = new["ports"][(run * 7919) % len(new["ports"])]
    port["status"] = "DOWN" if port.get("status") == "ACTIVE" else "ACTIVE"
    return new


def line(what: str, costs: list[Cost]) -> str:
    def med(values: list[float]) -> float:
        return statistics.median(values)

    return (
        f"  {what:<28} wall median {med([c.wall for c in costs]):7.3f} s max {max(c.wall for c in costs):7.3f} s"
        f" | CPU median {med([c.cpu for c in costs]):7.3f} s"
        f" | rows read {med([c.rows_read for c in costs]):6.0f} written {med([c.rows_written for c in costs]):4.0f}"
        f" | bytes written {med([c.bytes_written for c in costs]) / 1e6:8.3f} MB"
        f" | RSS {max(c.rss_mb for c in costs):6.0f} MB"
    )


Run = Callable[[], tuple[int, int, int]]


def interleaved(costs: dict[str, list[Cost]], run: int, ab: bool, after: Run, before: Run, what: str) -> None:
    """One change applied by both paths (``ab``; the first alternating) or by the writer alone."""
    pair = [(f"after {what}", after), (f"before {what}", before)]
    for name, call in pair[:: 1 if run % 2 else -1] if ab else pair[:1]:
        costs[name].append(measured(call))


def bench(hosts: int, args: argparse.Namespace) -> None:
    from bench.synthetic import synthetic_cloud
    from topology import graphservice, services
    from topology.graphservice import GraphWriter
    from topology.graphservice.store import forget_assembled
    from topology.join import JoinCache
    from topology.models import CloudSnapshot, GraphPart, GraphState, GraphView, HostReport, HostReportChange

    for model in (HostReport, HostReportChange, CloudSnapshot, GraphPart, GraphState, GraphView):
        model.objects.all().delete()
    graphservice.WRITER = GraphWriter()
    services.JOIN_CACHE = JoinCache()
    before_cache = JoinCache()
    cloud, reports = synthetic_cloud(hosts, hosts * 20, max(2, hosts // 2), max(1, min(3, hosts // 100)))
    size = sum(len(orjson.dumps(r)) for r in reports.values())
    print(f"\n{hosts} hosts, {hosts * 20} ports: reports {size / hosts / 1e3:.0f} kB each; load {os.getloadavg()}")
    store_cloud(cloud)
    for host, report in reports.items():
        store_report(host, report)
    ab = args.only == "ab"
    print(line("after: start (sync, cold)", [measured(apply_after)]))
    if ab:
        print(line("before: first (cold cache)", [measured(lambda: rebuild_before(before_cache))]))
    names = sorted(reports)
    costs: dict[str, list[Cost]] = {"before report": [], "after report": [], "before cloud": [], "after cloud": []}
    for run in range(args.reports):
        host = names[(run * 37) % len(names)]
        reports[host] = flipped_tap(reports[host], run)
        store_report(host, reports[host])
        interleaved(
            costs, run, ab, functools.partial(apply_after, [host]), lambda: rebuild_before(before_cache), "report"
        )
    for run in range(args.clouds):
        cloud = refreshed_cloud(cloud, run)
        store_cloud(cloud)
        interleaved(costs, run, ab, lambda: apply_after(cloud=True), lambda: rebuild_before(before_cache), "cloud")
    batch = names[: args.batch]
    for host in batch:
        reports[host] = flipped_tap(reports[host], 99)
        store_report(host, reports[host])
    costs[f"after batch of {len(batch)} hosts"] = [measured(lambda: apply_after(batch))]
    for what, found in costs.items():
        if found:
            print(line(what, found))
    if ab:
        for what in ("report", "cloud"):
            b, a = costs[f"before {what}"], costs[f"after {what}"]
            ratio = statistics.median(c.wall for c in b) / statistics.median(c.wall for c in a)
            print(f"  per {what}: after is {ratio:.1f}x faster (wall medians, interleaved)")
    forget_assembled()
    view = measured(lambda: (0, 1, len(services.graph_view("physical", None))))
    print(line("reader: first physical view", [view]))
    print(
        f"  writer's graph: {len(graphservice.WRITER.nodes)} nodes, {len(graphservice.WRITER.edges)} edges, "
        f"{GraphPart.objects.count()} parts; RSS now {psutil.Process().memory_info().rss / 1e6:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--reports", type=int, default=5)
    parser.add_argument("--clouds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=17, help="hosts changed at once (16.7 reports/s for 1 s)")
    parser.add_argument("--only", choices=["ab", "after"], default="ab", help="after: the writer alone (its RSS)")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12"),
        help="bin/redis's server on a database number of its own (the deltas are published there)",
    )
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; load average {os.getloadavg()}")
    setup_django(args.redis_url)
    for hosts in args.hosts:
        bench(hosts, args)


if __name__ == "__main__":
    main()
