"""Agent-report ingest through the public API, the whole path, as real agents and a browser see it (issue 13).

    .venv/bin/python -m bench.ingest [--hosts 20] [--ports-per-host 20] [--duration 30]
        [--rate-scale 1] [--concurrency 8] [--load-timeout 600] [--worker] [--writer queue|inline]

It starts the parts the README's run command (bin/run) starts, without the lab, on a
scratch SQLite file (var/bench-ingest.sqlite3) and its own port: migrations, the
cloud snapshot stored as the collector stores it (the synthetic cloud of
bench/synthetic.py, then one rebuild as ``manage.py refresh_cloud`` does), daphne
(``dashboard.asgi:application``), with ``--writer queue`` (the default, bin/run's) the
graph writer (``celery worker -Q graph --concurrency 1 --pool solo``), and with
``--worker`` the jobs' Celery worker (no beat: its cloud refresh would need a cloud).
``--writer inline`` joins in the request, as before issue 13. Redis is bin/redis's
server on its own database number (--redis-url).

Then, over HTTP to daphne:

1. one agent token per host (``services.issue_agent_token``, what ``manage.py
   agent_token`` calls) and every host's first report POSTed to
   ``/api/v1/agents/report/``, ``--concurrency`` at once, until ``--load-timeout``;
2. the physical view's first render from the API (``GET /api/v1/topology/?view=physical``
   with an admin's session, gzip, as the map page asks);
3. a websocket on ``/ws/topology/`` as that page opens it (session cookie, Origin,
   ``topology.sync``), while reports stream at the rate ``--hosts`` agents reporting
   every 60 s make (times ``--rate-scale``), at most ``--concurrency`` in flight, for
   ``--duration`` s; each adds a marker interface ``mk<seq>`` to its host's report;
   a report not started by the end of the stream is counted, not sent.

It prints POST latency, marker -> websocket delta latency, markers never delivered,
status codes, the server's CPU per report and RSS, the first-render time and ratios
to issue 13's targets. Speed figures only: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import time
from functools import partial

import orjson

from bench.ingest_client import (
    REPORT_URL,
    Poster,
    first_render,
    load,
    marked_body,
    now_iso,
    page_read,
    render_line,
    stream,
)
from bench.ingest_server import (
    DB,
    LOG_DIR,
    REPO,
    Resources,
    admin_session,
    daphne_log,
    free_port,
    preload,
    server_env,
    setup_django,
    stack,
    store_cloud,
    wait_http,
)
from bench.ingest_stats import (
    JsonDict,
    Post,
    counts_line,
    delivery,
    hosts_in,
    latency_line,
    log_errors,
    ms,
    percentile,
    ratio,
    refusals,
    status_counts,
)

__all__ = [  # what this module defined before the split into ingest_server and ingest_client
    "DB",
    "LOG_DIR",
    "REPO",
    "REPORT_URL",
    "Poster",
    "Resources",
    "admin_session",
    "daphne_log",
    "first_render",
    "free_port",
    "load",
    "main",
    "marked_body",
    "now_iso",
    "page_read",
    "preload",
    "render_line",
    "run",
    "server_env",
    "setup_django",
    "stack",
    "store_cloud",
    "stream",
    "wait_http",
]

# Issue 13's targets at 1,000 hosts (its "How it is measured").
TARGET_POST_P95, TARGET_DELTA_P95, TARGET_RSS = 0.050, 1.0, 1e9


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def print_posts(title: str, posts: list[Post], elapsed: float) -> None:
    sent = [p for p in posts if p.status != "not sent"]
    accepted = [p for p in sent if p.accepted]
    print(
        f"{title}: {len(accepted)} of {len(posts)} accepted in {elapsed:.1f} s "
        f"({len(accepted) / max(elapsed, 1e-9):.2f}/s); status: {counts_line(status_counts(posts))}"
    )
    print(f"  POST latency: {latency_line([p.latency for p in sent])}")
    for what, n in refusals(posts).most_common(5):
        print(f"  refused x{n}: {what}")
    if len(sent) >= 10:
        tenth = max(1, len(sent) // 10)
        ordered = sorted(sent, key=lambda p: p.started)
        print(
            f"  first tenth p50 {ms(percentile([p.latency for p in ordered[:tenth]], 0.5))}, "
            f"last tenth p50 {ms(percentile([p.latency for p in ordered[-tenth:]], 0.5))}"
        )
    lag = [p.started - p.due for p in sent]
    if lag and title.startswith("stream"):
        print(f"  wait in the client queue before sending: {latency_line(lag)}")


def run(args: argparse.Namespace) -> None:
    from bench.synthetic import synthetic_cloud

    env = server_env(args.redis_url, args.writer)
    print(f"load average at start: {loadavg()} ({os.cpu_count()} CPUs)")
    setup_django(env)
    from topology.services import issue_agent_token

    ports = args.hosts * args.ports_per_host
    projects = args.projects or max(2, args.hosts // 2)
    cloud, reports = synthetic_cloud(args.hosts, ports, projects, min(args.network_nodes, args.hosts))
    size = sum(len(orjson.dumps(r)) for r in reports.values())
    print(
        f"synthetic cloud: {args.hosts} hosts, {ports} ports, {projects} projects; reports "
        f"{size / len(reports) / 1e3:.0f} kB each on average"
    )
    store_cloud(cloud)
    if args.preload:
        preload(reports)
    tokens = {host: issue_agent_token(host) for host in reports}
    session_key = admin_session()
    from django.conf import settings

    cookie = f"{settings.SESSION_COOKIE_NAME}={session_key}"
    log_at = daphne_log().stat().st_size if daphne_log().exists() else 0
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with stack(env, port, args.worker) as procs:
        res = Resources(list(procs.values()), list(procs))
        poster = Poster(base, tokens, args.concurrency, args.timeout)
        cpu0 = res.cpu()
        loaded, load_s = load(poster, {} if args.preload else reports, args.load_timeout)
        cpu1 = res.cpu()
        ok = set(reports) if args.preload else hosts_in(loaded)
        if not args.preload:
            print(
                f"first reports: {len(ok)} of {len(reports)} hosts in after {load_s:.1f} s, {len(loaded)} "
                f"attempts (retried as the agent does)"
            )
            print_posts("  attempts", loaded, load_s)
            print(
                f"  server CPU per accepted first report: {(cpu1 - cpu0) / max(1, len(ok)):.2f} s; "
                f"RSS {res.rss() / 1e6:.0f} MB; load average {loadavg()}"
            )
        wait_writer(args.writer, args.load_timeout)
        line, _ = render_line(base, cookie, 3)
        print(f"first render, GET topology physical: {line}")
        if len(ok) < len(reports):
            print(
                f"first reports unfinished: {len(ok)} of {len(reports)} hosts got in by --load-timeout "
                f"{args.load_timeout:.0f} s; streaming skipped (issue 13 stopped here too)"
            )
            print_resources(res, cpu1 - cpu0, len(ok), "first reports")
            print_log_errors(log_at)
            return
        measure_stream(args, poster, res, reports, sorted(reports), port, cookie)
        print(f"GET topology physical after the stream: {render_line(base, cookie, 1)[0]}")
        res.stopping.set()
    print_log_errors(log_at)
    print(f"load average at end: {loadavg()}")


def measure_stream(
    args: argparse.Namespace,
    poster: Poster,
    res: Resources,
    reports: dict[str, JsonDict],
    hosts: list[str],
    port: int,
    cookie: str,
) -> None:
    from bench.ingest_ws import TopologyStream

    ws = TopologyStream(port, cookie, partial(page_read, f"http://127.0.0.1:{port}", cookie))
    ws.start()
    rate = args.hosts / 60 * args.rate_scale
    cpu0, named0 = res.cpu(), cpu_by_name(res)
    posts, elapsed = stream(poster, reports, hosts, rate, args.duration)
    drain_until = time.monotonic() + args.drain
    wanted = {p.marker for p in posts if p.accepted}
    while time.monotonic() < drain_until and not wanted <= ws.seen.keys():
        time.sleep(0.2)
    # CPU up to the end of the drain: the writer's work on the stream's reports ends after the last POST.
    cpu1, named1 = res.cpu(), cpu_by_name(res)
    ws.stop()
    accepted = [p for p in posts if p.accepted]
    got = delivery(posts, ws.seen, ws.seen_rest)
    print(
        f"stream: demand {rate:.2f} reports/s ({args.hosts} agents every 60 s x {args.rate_scale}) for "
        f"{args.duration:.0f} s, {args.concurrency} at once; {len(posts)} due"
    )
    print_posts("stream", posts, elapsed)
    print(f"  marker -> websocket delta: {latency_line(got.latencies)}")
    print(
        f"  markers never delivered: {len(got.never)} of {len(accepted)} accepted "
        f"({got.superseded} of them replaced by a later report of the same host that was); "
        f"{got.by_resync} seen only in the REST read after a reconnection"
    )
    print(f"  websocket: {ws.summary()}")
    print_resources(res, cpu1 - cpu0, len(accepted), "stream and drain", {n: named1[n] - named0[n] for n in named1})
    print_writer(args.writer)
    capacity = len(accepted) / max(elapsed, args.duration)
    post_p95 = percentile([p.latency for p in posts if p.status != "not sent"], 0.95)
    delta_p95 = percentile(got.latencies, 0.95)
    print(
        f"ratios: accepted rate / demand {ratio(capacity, rate)}; POST p95 / 50 ms target "
        f"{ratio(post_p95, TARGET_POST_P95)}; delta p95 / 1 s target {ratio(delta_p95, TARGET_DELTA_P95)}; "
        f"peak RSS / 1 GB target {ratio(res.peak_rss, TARGET_RSS)}"
    )


def wait_writer(writer: str, timeout: float) -> None:
    """Queue mode: until the graph writer applied every accepted first report (the map shows them)."""
    if writer != "queue":
        return
    from topology import ingest_queue

    started = time.monotonic()
    while time.monotonic() - started < timeout and ingest_queue.backlog().pending:
        time.sleep(0.5)
    print(f"  graph writer: first reports applied {time.monotonic() - started:.1f} s after the last one was accepted")
    print_writer(writer)


def print_log_errors(offset: int) -> None:
    with open(daphne_log(), "rb") as log:
        log.seek(offset)
        text = log.read().decode(errors="replace")
    errors = log_errors(text)
    print(
        f"server log ({daphne_log().relative_to(REPO)}): {sum(errors.values())} exceptions"
        + "".join(f"\n  x{n}: {what}" for what, n in errors.most_common(6))
    )


def print_resources(
    res: Resources, cpu: float, reports: int, phase: str, by_name: dict[str, float] | None = None
) -> None:
    per = f"{cpu / reports:.2f} s" if reports else "n/a"
    print(
        f"  server ({len(res.procs)} process{'es' if len(res.procs) > 1 else ''}): {cpu:.1f} s CPU in the {phase}, "
        f"{per} per accepted report; RSS now {res.rss() / 1e6:.0f} MB, peak {res.peak_rss / 1e6:.0f} MB; "
        f"load average {loadavg()}"
    )
    now = res.by_name()
    for name in res.names:
        spent = f"{by_name[name]:.1f} s CPU in the {phase}, " if by_name is not None else ""
        print(f"    {name}: {spent}RSS now {now[name][1] / 1e6:.0f} MB, peak {res.peak_by_name[name] / 1e6:.0f} MB")


def cpu_by_name(res: Resources) -> dict[str, float]:
    return {name: cpu for name, (cpu, _) in res.by_name().items()}


def print_writer(writer: str) -> None:
    """The graph writer's own count: rebuilds made, hosts still marked (topology/ingest_queue.py)."""
    if writer != "queue":
        return
    from topology import ingest_queue

    backlog = ingest_queue.backlog()
    print(
        f"  graph writer: {backlog.rebuilds} rebuilds so far; {backlog.pending} hosts marked and not applied, "
        f"oldest {backlog.lag:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--ports-per-host", type=int, default=20)
    parser.add_argument("--projects", type=int, default=0, help="default: hosts / 2")
    parser.add_argument("--network-nodes", type=int, default=3)
    parser.add_argument("--duration", type=float, default=30, help="seconds of streaming")
    parser.add_argument("--rate-scale", type=float, default=1.0, help="times the rate of agents every 60 s")
    parser.add_argument("--concurrency", type=int, default=8, help="reports in flight at most")
    parser.add_argument("--load-timeout", type=float, default=600, help="seconds for the first reports")
    parser.add_argument("--timeout", type=float, default=30, help="seconds a POST may take (the agent's 30)")
    parser.add_argument("--drain", type=float, default=15, help="seconds to wait for markers after the stream")
    parser.add_argument(
        "--preload",
        action="store_true",
        help="store the first reports in-process before the server starts (not through the API)",
    )
    parser.add_argument("--worker", action="store_true", help="also start the jobs' Celery worker (bin/run's)")
    parser.add_argument(
        "--writer",
        choices=("queue", "inline"),
        default="queue",
        help="DASHBOARD_GRAPH_WRITER: queue (bin/run's: the graph writer process applies the reports) or inline",
    )
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11"))
    run(parser.parse_args())


if __name__ == "__main__":
    main()
