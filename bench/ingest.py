"""Agent-report ingest through the public API, the whole path, as real agents and a browser see it (issue 13).

    .venv/bin/python -m bench.ingest [--hosts 20] [--ports-per-host 20] [--duration 30]
        [--rate-scale 1] [--concurrency 8] [--load-timeout 600] [--worker]

It starts the parts the README's run command (bin/run) starts, without the lab, on a
scratch SQLite file (var/bench-ingest.sqlite3) and its own port: migrations, the
cloud snapshot stored as the collector stores it (the synthetic cloud of
bench/synthetic.py, then one rebuild as ``manage.py refresh_cloud`` does), daphne
(``dashboard.asgi:application``), and with ``--worker`` a Celery worker (no beat:
its cloud refresh would need a cloud; today's ingest runs in the request and needs
none). Redis is bin/redis's server on its own database number (--redis-url).

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
import gzip
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import orjson
import psutil  # type: ignore[import-untyped]
import requests

from bench.ingest_stats import (
    JsonDict,
    Post,
    agent_shaped,
    counts_line,
    delivery,
    hosts_in,
    latency_line,
    log_errors,
    marker_name,
    ms,
    percentile,
    ratio,
    refusals,
    retried,
    status_counts,
    status_label,
    with_marker,
)
from topology.agent.send import retry_after

REPO = Path(__file__).resolve().parent.parent
DB = REPO / "var" / "bench-ingest.sqlite3"
LOG_DIR = REPO / "var" / "log"
REPORT_URL = "/api/v1/agents/report/"
# Issue 13's targets at 1,000 hosts (its "How it is measured").
TARGET_POST_P95, TARGET_DELTA_P95, TARGET_RSS = 0.050, 1.0, 1e9


def server_env(redis_url: str) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{DB}", "REDIS_URL": redis_url,
           "DJANGO_SETTINGS_MODULE": "dashboard.settings", "PYTHONUNBUFFERED": "1"}
    key = REPO / "var" / "secret-key"
    if "DJANGO_SECRET_KEY" not in env and "DJANGO_SECRET_KEY_FILE" not in env and key.exists():
        env["DJANGO_SECRET_KEY_FILE"] = str(key)
    return env


def setup_django(env: dict[str, str]) -> None:
    """A fresh scratch database, migrated; this process's Django on it (same key and Redis as the server)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{DB}{suffix}").unlink(missing_ok=True)
    subprocess.run([str(REPO / "bin" / "redis")], cwd=REPO, check=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, check=True, env=env)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")})
    if "DJANGO_SECRET_KEY_FILE" in env:
        os.environ["DJANGO_SECRET_KEY_FILE"] = env["DJANGO_SECRET_KEY_FILE"]
    import django

    django.setup()


def store_cloud(cloud: JsonDict) -> int:
    """The snapshot as ``services.refresh_cloud`` stores it, then its rebuild; returns the revision."""
    from django.utils import timezone

    from topology import services
    from topology.models import CloudSnapshot

    CloudSnapshot.objects.create(cloud="synthetic", collected_at=timezone.now(), data=cloud,
                                 digest=services.hex_digest(cloud), api_calls=0, duration=0)
    return services.rebuild_graph().revision


def preload(reports: dict[str, JsonDict]) -> None:
    """--preload: every host's first report stored as the endpoint stores it, then one rebuild, in this
    process before the server starts (not through the API: to measure the stream where the first
    reports through the API do not all get in)."""
    from topology import services

    started = time.monotonic()
    for host, report in reports.items():
        services.store_report(host, report, len(orjson.dumps(report)))
    revision = services.rebuild_graph().revision
    print(f"preloaded (not through the API): {len(reports)} first reports stored and joined once in "
          f"{time.monotonic() - started:.1f} s, revision {revision}")


def admin_session() -> str:
    """A logged-in admin's session key, as the login view makes it (tests/browser.py)."""
    from tests.browser import caller, session_for

    return session_for(caller("admin", "admin-project", admin=True, minutes=240))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, procs: list[subprocess.Popen[bytes]], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} (logs in {LOG_DIR})")
        try:
            requests.get(url, timeout=5)
            return
        except requests.RequestException:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer in {timeout:.0f} s")


@contextmanager
def stack(env: dict[str, str], port: int, worker: bool) -> Iterator[list[psutil.Process]]:
    """daphne (and a Celery worker) as bin/run starts them; yields their processes."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    commands = [[str(REPO / ".venv/bin/daphne"), "-b", "127.0.0.1", "-p", str(port), "dashboard.asgi:application"]]
    if worker:
        commands.append([str(REPO / ".venv/bin/celery"), "-A", "dashboard", "worker", "--loglevel", "INFO",
                         "--concurrency", "2", "-n", f"bench-ingest-{port}@%h"])
    procs = []
    for command, name in zip(commands, ("daphne", "celery"), strict=False):
        with open(LOG_DIR / f"bench-ingest-{name}.log", "ab") as log:
            procs.append(subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT))
    try:
        wait_http(f"http://127.0.0.1:{port}/login/", procs)
        yield [psutil.Process(p.pid) for p in procs]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


class Resources:
    """The server processes' CPU seconds (with children) and peak RSS, sampled every second."""

    def __init__(self, procs: list[psutil.Process]) -> None:
        self.procs = procs
        self.peak_rss = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def tree(self) -> list[psutil.Process]:
        return [q for p in self.procs for q in (p, *p.children(recursive=True))]

    def cpu(self) -> float:
        total = 0.0
        for p in self.tree():
            with suppress(psutil.NoSuchProcess):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    def rss(self) -> int:
        total = 0
        for p in self.tree():
            with suppress(psutil.NoSuchProcess):
                total += p.memory_info().rss
        return total

    def sample(self) -> None:
        while not self.stopping.wait(1.0):
            self.peak_rss = max(self.peak_rss, self.rss())


class Poster:
    """POSTs reports with each host's token, ``concurrency`` at once (a requests session per thread)."""

    def __init__(self, base: str, tokens: dict[str, str], concurrency: int, timeout: float) -> None:
        self.base, self.tokens, self.timeout = base, tokens, timeout
        self.pool = ThreadPoolExecutor(concurrency, thread_name_prefix="agent")
        self.local = threading.local()

    def session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        session: requests.Session = self.local.session
        return session

    def send(self, post: Post, body: Callable[[], bytes], deadline: float) -> Post:
        if time.monotonic() > deadline:
            return post  # still queued at the end: "not sent"
        data = body()
        post.started = time.monotonic()
        try:
            answer = self.session().post(self.base + REPORT_URL, data=data, timeout=self.timeout, headers={
                "Authorization": f"Bearer {self.tokens[post.host]}", "Content-Type": "application/json"})
            post.status = status_label(answer.status_code)
            if answer.status_code != 202:
                post.detail = answer.text[:500]
                post.retry_after = retry_after(answer.headers.get("Retry-After"))
        except requests.RequestException as exc:
            post.status = status_label(None, exc)
            post.detail = str(exc)[:500]
        post.ended = time.monotonic()
        return post

    def submit(self, post: Post, body: Callable[[], bytes], deadline: float) -> Future[Post]:
        return self.pool.submit(self.send, post, body, deadline)

    def send_until_in(self, host: str, body: Callable[[], bytes], deadline: float) -> list[Post]:
        """As the agent sends a report (topology/agent/send.py): again after 1, 2, 4... up to 30 s on a
        5xx, a timeout or no connection, after Retry-After on 429/503; a 202 or another 4xx ends it."""
        attempts: list[Post] = []
        delay = 1.0
        while time.monotonic() < deadline:
            post = self.send(Post(host, None, time.monotonic()), body, deadline)
            attempts.append(post)
            if not retried(post.status):
                break
            time.sleep(post.retry_after if post.retry_after is not None else delay)
            delay = min(delay * 2, 30.0)
        return attempts


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def load(poster: Poster, reports: dict[str, JsonDict], timeout: float) -> tuple[list[Post], float]:
    """Every host's first report, as fast as ``concurrency`` allows, retried as the agent does, until
    ``timeout``; every attempt is returned."""
    start = time.monotonic()
    deadline = start + timeout
    futures = [poster.pool.submit(poster.send_until_in, host, partial(orjson.dumps, report), deadline)
               for host, report in reports.items()]
    posts = [post for f in futures for post in f.result()]
    return posts, time.monotonic() - start


def marked_body(report: JsonDict, seq: int) -> bytes:
    """The report's body as sent, with its marker, serialized when it is sent (collected_at: now)."""
    return orjson.dumps(with_marker(report, seq, now_iso()))


def stream(poster: Poster, reports: dict[str, JsonDict], hosts: list[str], rate: float,
           duration: float) -> tuple[list[Post], float]:
    """Reports at ``rate`` per second for ``duration`` s, host after host, each with a new marker."""
    start = time.monotonic()
    end = start + duration
    futures = []
    seq = 0
    while True:
        due = start + seq / rate
        if due >= end:
            break
        time.sleep(max(0.0, due - time.monotonic()))
        host = hosts[seq % len(hosts)]
        body = partial(marked_body, reports[host], seq)
        futures.append(poster.submit(Post(host, marker_name(seq), due), body, end))
        seq += 1
    posts = [f.result() for f in futures]
    return posts, time.monotonic() - start


def first_render(base: str, cookie: str, repeat: int = 3, timeout: float = 180) -> tuple[list[float], int, int]:
    """GET the physical view as the map page does: times, gzip size, revision."""
    times: list[float] = []
    raw = b""
    for _ in range(repeat):
        started = time.monotonic()
        answer = requests.get(base + "/api/v1/topology/?view=physical", timeout=timeout, stream=True,
                              headers={"Cookie": cookie, "Accept-Encoding": "gzip"})
        raw = answer.raw.read(decode_content=False)
        times.append(time.monotonic() - started)
        answer.raise_for_status()
    return times, len(raw), int(orjson.loads(gzip.decompress(raw)).get("revision") or 0)


def page_read(base: str, cookie: str) -> tuple[int, str]:
    """What the map page reads on (re)connecting: the physical view; its revision and text."""
    answer = requests.get(base + "/api/v1/topology/?view=physical", timeout=180, headers={"Cookie": cookie})
    answer.raise_for_status()
    return int(answer.json().get("revision") or 0), answer.text


def render_line(base: str, cookie: str, repeat: int) -> tuple[str, int]:
    """The first-render figures as a line, and the revision (0 when the GET failed)."""
    try:
        times, size, revision = first_render(base, cookie, repeat)
    except requests.RequestException as exc:
        return f"failed ({type(exc).__name__}: {str(exc)[:200]})", 0
    return f"{', '.join(ms(t) for t in times)} ({size / 1e6:.2f} MB gzip, revision {revision})", revision


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def print_posts(title: str, posts: list[Post], elapsed: float) -> None:
    sent = [p for p in posts if p.status != "not sent"]
    accepted = [p for p in sent if p.accepted]
    print(f"{title}: {len(accepted)} of {len(posts)} accepted in {elapsed:.1f} s "
          f"({len(accepted) / max(elapsed, 1e-9):.2f}/s); status: {counts_line(status_counts(posts))}")
    print(f"  POST latency: {latency_line([p.latency for p in sent])}")
    for what, n in refusals(posts).most_common(5):
        print(f"  refused x{n}: {what}")
    if len(sent) >= 10:
        tenth = max(1, len(sent) // 10)
        ordered = sorted(sent, key=lambda p: p.started)
        print(f"  first tenth p50 {ms(percentile([p.latency for p in ordered[:tenth]], 0.5))}, "
              f"last tenth p50 {ms(percentile([p.latency for p in ordered[-tenth:]], 0.5))}")
    lag = [p.started - p.due for p in sent]
    if lag and title.startswith("stream"):
        print(f"  wait in the client queue before sending: {latency_line(lag)}")


def run(args: argparse.Namespace) -> None:
    from bench.synthetic import synthetic_cloud

    env = server_env(args.redis_url)
    print(f"load average at start: {loadavg()} ({os.cpu_count()} CPUs)")
    setup_django(env)
    from topology.services import issue_agent_token

    ports = args.hosts * args.ports_per_host
    projects = args.projects or max(2, args.hosts // 2)
    cloud, reports = synthetic_cloud(args.hosts, ports, projects, min(args.network_nodes, args.hosts))
    reports = {host: agent_shaped(report) for host, report in reports.items()}
    size = sum(len(orjson.dumps(r)) for r in reports.values())
    print(f"synthetic cloud: {args.hosts} hosts, {ports} ports, {projects} projects; reports "
          f"{size / len(reports) / 1e3:.0f} kB each on average")
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
        res = Resources(procs)
        poster = Poster(base, tokens, args.concurrency, args.timeout)
        cpu0 = res.cpu()
        loaded, load_s = load(poster, {} if args.preload else reports, args.load_timeout)
        cpu1 = res.cpu()
        ok = set(reports) if args.preload else hosts_in(loaded)
        if not args.preload:
            print(f"first reports: {len(ok)} of {len(reports)} hosts in after {load_s:.1f} s, {len(loaded)} "
                  f"attempts (retried as the agent does)")
            print_posts("  attempts", loaded, load_s)
            print(f"  server CPU per accepted first report: {(cpu1 - cpu0) / max(1, len(ok)):.2f} s; "
                  f"RSS {res.rss() / 1e6:.0f} MB; load average {loadavg()}")
        line, _ = render_line(base, cookie, 3)
        print(f"first render, GET topology physical: {line}")
        if len(ok) < len(reports):
            print(f"first reports unfinished: {len(ok)} of {len(reports)} hosts got in by --load-timeout "
                  f"{args.load_timeout:.0f} s; streaming skipped (issue 13 stopped here too)")
            print_resources(res, cpu1 - cpu0, len(ok), "first reports")
            print_log_errors(log_at)
            return
        measure_stream(args, poster, res, reports, sorted(reports), port, cookie)
        print(f"GET topology physical after the stream: {render_line(base, cookie, 1)[0]}")
        res.stopping.set()
    print_log_errors(log_at)
    print(f"load average at end: {loadavg()}")


def measure_stream(args: argparse.Namespace, poster: Poster, res: Resources, reports: dict[str, JsonDict],
                   hosts: list[str], port: int, cookie: str) -> None:
    from bench.ingest_ws import TopologyStream

    ws = TopologyStream(port, cookie, partial(page_read, f"http://127.0.0.1:{port}", cookie))
    ws.start()
    rate = args.hosts / 60 * args.rate_scale
    cpu0 = res.cpu()
    posts, elapsed = stream(poster, reports, hosts, rate, args.duration)
    cpu1 = res.cpu()
    drain_until = time.monotonic() + args.drain
    wanted = {p.marker for p in posts if p.accepted}
    while time.monotonic() < drain_until and not wanted <= ws.seen.keys():
        time.sleep(0.2)
    ws.stop()
    accepted = [p for p in posts if p.accepted]
    got = delivery(posts, ws.seen, ws.seen_rest)
    print(f"stream: demand {rate:.2f} reports/s ({args.hosts} agents every 60 s x {args.rate_scale}) for "
          f"{args.duration:.0f} s, {args.concurrency} at once; {len(posts)} due")
    print_posts("stream", posts, elapsed)
    print(f"  marker -> websocket delta: {latency_line(got.latencies)}")
    print(f"  markers never delivered: {len(got.never)} of {len(accepted)} accepted "
          f"({got.superseded} of them replaced by a later report of the same host that was); "
          f"{got.by_resync} seen only in the REST read after a reconnection")
    print(f"  websocket: {ws.summary()}")
    print_resources(res, cpu1 - cpu0, len(accepted), "stream")
    capacity = len(accepted) / max(elapsed, args.duration)
    post_p95 = percentile([p.latency for p in posts if p.status != "not sent"], 0.95)
    delta_p95 = percentile(got.latencies, 0.95)
    print(f"ratios: accepted rate / demand {ratio(capacity, rate)}; POST p95 / 50 ms target "
          f"{ratio(post_p95, TARGET_POST_P95)}; delta p95 / 1 s target {ratio(delta_p95, TARGET_DELTA_P95)}; "
          f"peak RSS / 1 GB target {ratio(res.peak_rss, TARGET_RSS)}")


def daphne_log() -> Path:
    return LOG_DIR / "bench-ingest-daphne.log"


def print_log_errors(offset: int) -> None:
    with open(daphne_log(), "rb") as log:
        log.seek(offset)
        text = log.read().decode(errors="replace")
    errors = log_errors(text)
    print(f"server log ({daphne_log().relative_to(REPO)}): {sum(errors.values())} exceptions"
          + "".join(f"\n  x{n}: {what}" for what, n in errors.most_common(6)))


def print_resources(res: Resources, cpu: float, reports: int, phase: str) -> None:
    per = f"{cpu / reports:.2f} s" if reports else "n/a"
    print(f"  server ({len(res.procs)} process{'es' if len(res.procs) > 1 else ''}): {cpu:.1f} s CPU in the {phase}, "
          f"{per} per accepted report; RSS now {res.rss() / 1e6:.0f} MB, peak {res.peak_rss / 1e6:.0f} MB; "
          f"load average {loadavg()}")


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
    parser.add_argument("--preload", action="store_true",
                        help="store the first reports in-process before the server starts (not through the API)")
    parser.add_argument("--worker", action="store_true", help="also start a Celery worker (bin/run's)")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11"))
    run(parser.parse_args())


if __name__ == "__main__":
    main()
