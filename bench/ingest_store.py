"""``services.store_report`` A/B in one process: main's (the previous report decoded for the change
summary) against this tree's (the stored inventory compared), interleaved post by post.

    .venv/bin/python -m bench.ingest_store [--hosts 200] [--posts 400] [--redis-url redis://127.0.0.1:6379/9]

The synthetic cloud's reports (bench/synthetic.py, 20 ports per host) stored on a scratch SQLite
file (var/bench-ingest-store.sqlite3); the hosts split in two halves, one per side (so that each
side reads only rows it wrote), then marker reports (bench/ingest_stats.py ``with_marker``, as
bench/ingest.py posts them) stored alternately by each side. Prints wall and CPU p50/p95 per call
and the history rows each side made (the same count: the markers change the interfaces). Speed
figures only: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import orjson

from bench import graphservice as harness
from bench.ingest_stats import percentile, with_marker

JsonDict = dict[str, Any]


def store_report_main(host: str, report: JsonDict, size: int) -> Any:
    """services.store_report as main has it (be6a523): the previous row selected, its report decoded."""
    from django.db import transaction
    from django.utils import timezone

    from dashboard.isotime import parse_time
    from topology import services
    from topology.models import HostReport, HostReportChange

    now = timezone.now()
    with transaction.atomic():
        previous = HostReport.objects.select_for_update().filter(host=host).first()
        summary = services.summarize_report_change(previous.report if previous else None, report)
        if any(change["added"] or change["removed"] for change in summary.values()):
            HostReportChange.objects.create(host=host, received_at=now, summary=summary)
        row, _ = HostReport.objects.update_or_create(
            host=host,
            defaults={
                "collected_at": parse_time(report["collected_at"]),
                "received_at": now,
                "size": size,
                "report": report,
                "digest": services.hex_digest(report),
            },
        )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--posts", type=int, default=400)
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9"))
    args = parser.parse_args()
    harness.DB = harness.REPO / "var" / "bench-ingest-store.sqlite3"
    os.environ["DASHBOARD_GRAPH_WRITER"] = "queue"
    harness.setup_django(args.redis_url)
    from bench.synthetic import synthetic_cloud
    from topology import services
    from topology.models import HostReportChange

    print(f"{os.cpu_count()} CPUs; load average {os.getloadavg()}")
    _, reports = synthetic_cloud(args.hosts, args.hosts * 20, max(2, args.hosts // 2), 3)
    names = sorted(reports)
    sides: dict[str, tuple[Callable[[str, JsonDict, int], Any], list[str]]] = {
        "main": (store_report_main, names[0::2]),
        "this tree": (services.store_report, names[1::2]),
    }
    for store, hosts in sides.values():
        for host in hosts:
            store(host, reports[host], len(orjson.dumps(reports[host])))
    walls: dict[str, list[float]] = {side: [] for side in sides}
    cpus: dict[str, list[float]] = {side: [] for side in sides}
    for seq in range(args.posts):
        for side, (store, hosts) in sides.items():
            host = hosts[(seq * 37) % len(hosts)]
            report = with_marker(reports[host], seq, f"2026-12-03T04:{seq // 60 % 60:02d}:{seq % 60:02d}Z")
            started, started_cpu = time.perf_counter(), time.process_time()
            store(host, report, 24_000)
            walls[side].append(time.perf_counter() - started)
            cpus[side].append(time.process_time() - started_cpu)
    body = len(orjson.dumps(report))
    print(f"{args.hosts} hosts ({args.hosts // 2} per side); {args.posts} reports of ~{body / 1e3:.0f} kB per side")
    for side, (_, hosts) in sides.items():
        wall, cpu = walls[side], cpus[side]
        rows = HostReportChange.objects.filter(host__in=hosts).count()
        print(
            f"  {side:<10} wall p50 {percentile(wall, 0.5) * 1e3:6.2f} ms p95 {percentile(wall, 0.95) * 1e3:6.2f} ms; "
            f"CPU p50 {percentile(cpu, 0.5) * 1e3:6.2f} ms p95 {percentile(cpu, 0.95) * 1e3:6.2f} ms; "
            f"history rows {rows}"
        )


if __name__ == "__main__":
    main()
