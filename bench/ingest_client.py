"""bench.ingest's agents and map page over HTTP: reports POSTed as the agent sends them, the physical view read."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial

import orjson
import requests

from bench.ingest_stats import JsonDict, Post, marker_name, ms, retried, status_label, with_marker
from topology.agent.send import retry_after

REPORT_URL = "/api/v1/agents/report/"


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
            answer = self.session().post(
                self.base + REPORT_URL,
                data=data,
                timeout=self.timeout,
                headers={"Authorization": f"Bearer {self.tokens[post.host]}", "Content-Type": "application/json"},
            )
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
    futures = [
        poster.pool.submit(poster.send_until_in, host, partial(orjson.dumps, report), deadline)
        for host, report in reports.items()
    ]
    posts = [post for f in futures for post in f.result()]
    return posts, time.monotonic() - start


def marked_body(report: JsonDict, seq: int) -> bytes:
    """The report's body as sent, with its marker, serialized when it is sent (collected_at: now)."""
    return orjson.dumps(with_marker(report, seq, now_iso()))


def stream(
    poster: Poster, reports: dict[str, JsonDict], hosts: list[str], rate: float, duration: float
) -> tuple[list[Post], float]:
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
        answer = requests.get(
            base + "/api/v1/topology/?view=physical",
            timeout=timeout,
            stream=True,
            headers={"Cookie": cookie, "Accept-Encoding": "gzip"},
        )
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
