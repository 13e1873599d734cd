"""Where a report's POST spends its time, piece by piece, in one process without the writer.

    .venv/bin/python -m bench.ingest_post [--hosts 1000] [--posts 300] [--redis-url redis://127.0.0.1:6379/13]

The synthetic cloud's reports (bench/synthetic.py, 20 ports per host) stored on a scratch SQLite
file (var/bench-ingest-post.sqlite3), one agent token per host, then ``--posts`` marker reports
(bench/ingest_stats.py ``with_marker``, as bench/ingest.py posts them) through Django's test client
to ``POST /api/v1/agents/report/`` (the queue mode: the report stored, the host marked in Redis;
no writer runs, so nothing competes for the CPU or SQLite's write lock). Printed: the wall time
of each piece of the view (wrapped where the view calls it), p50/p95 over the posts, and the
request's whole time: what of the bench.ingest POST p95 is the view's own work, and what is
waiting (the writer's transaction, the other process's CPU).
"""

from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import orjson

from bench import graphservice as harness
from bench.ingest_stats import percentile, with_marker

Timings = dict[str, list[float]]


def timed(timings: Timings, name: str, call: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            timings[name].append(time.perf_counter() - started)

    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--posts", type=int, default=300)
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"))
    args = parser.parse_args()
    harness.DB = harness.REPO / "var" / "bench-ingest-post.sqlite3"
    os.environ["DASHBOARD_GRAPH_WRITER"] = "queue"
    os.environ["DASHBOARD_GRAPH_QUEUE_URL"] = os.environ["CELERY_BROKER_URL"] = args.redis_url
    harness.setup_django(args.redis_url)
    from django.test import Client

    from bench.synthetic import synthetic_cloud
    from topology import api, ingest_queue, services

    print(f"{os.cpu_count()} CPUs; load average {os.getloadavg()}")
    cloud, reports = synthetic_cloud(args.hosts, args.hosts * 20, max(2, args.hosts // 2), 3)
    harness.store_cloud(cloud)
    tokens = {host: services.issue_agent_token(host) for host in reports}
    for host, report in reports.items():
        harness.store_report(host, report)
    ingest_queue.client().flushdb()
    timings: Timings = defaultdict(list)
    for module, name in (
        (api, "agent_host"),
        (api, "validate_report"),
        (api, "read_body"),
        (services, "store_report"),
        (services, "summarize_report_change"),
        (services, "current_revision"),
        (ingest_queue, "backlog"),
        (ingest_queue, "mark_and_schedule"),
    ):
        setattr(module, name, timed(timings, f"{module.__name__.split('.')[-1]}.{name}", getattr(module, name)))
    client = Client()
    names = sorted(reports)
    statuses: dict[int, int] = defaultdict(int)
    for seq in range(args.posts):
        host = names[(seq * 37) % len(names)]
        body = orjson.dumps(with_marker(reports[host], seq, f"2026-12-03T02:{seq // 60 % 60:02d}:{seq % 60:02d}Z"))
        started = time.perf_counter()
        response = client.post(
            "/api/v1/agents/report/", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {tokens[host]}"
        )
        timings["request (test client, whole)"].append(time.perf_counter() - started)
        statuses[response.status_code] += 1
    ingest_queue.client().flushdb()  # the marks and tasks of the posts: no writer here
    print(f"{args.hosts} hosts; {args.posts} posts of ~{len(body) / 1e3:.0f} kB; status {dict(statuses)}")
    for name, values in sorted(timings.items(), key=lambda item: -percentile(item[1], 0.5)):
        p50, p95 = percentile(values, 0.5) * 1e3, percentile(values, 0.95) * 1e3
        print(f"  {name:<36} p50 {p50:7.2f} ms  p95 {p95:7.2f} ms  ({len(values)} calls)")


if __name__ == "__main__":
    main()
