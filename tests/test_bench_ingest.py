"""bench/ingest.py's own helpers: markers, their matching with websocket deltas, percentiles, frames (no lab)."""

from __future__ import annotations

import copy
import struct

import orjson

from bench.ingest_stats import (
    MARKER_IN_BODY,
    Post,
    delivery,
    hosts_in,
    log_errors,
    markers_in,
    percentile,
    ratio,
    refusals,
    retried,
    status_counts,
    status_label,
    with_marker,
)
from bench.synthetic import synthetic_cloud
from topology import graph as g
from topology.agent.wsclient import OP_TEXT as TEXT
from topology.agent.wsclient import client_frame as frame
from topology.join import join
from topology.report import validate_report


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 0.5) == 51.0  # rank round(0.5 * 99) = 50 (0-based)
    assert percentile(values, 0.95) == 95.0  # rank round(94.05) = 94
    assert percentile(reversed(values), 0.0) == 1.0
    assert percentile(values, 1.0) == 100.0
    assert percentile([7.0], 0.95) == 7.0
    assert percentile([], 0.5) != percentile([], 0.5)  # nan


def test_a_marker_report_is_valid_and_its_delta_names_it() -> None:
    """The marker goes through the real validator and the real join; the diff's added nodes name it."""
    cloud, reports = synthetic_cloud(3, 12, 2, 1)
    report = copy.deepcopy(reports["compute0000"])  # the network node: qdhcp- namespaces
    assert validate_report(report) == []
    before = copy.deepcopy(report)
    marked = with_marker(report, 42, "2026-12-02T19:00:00Z")
    assert report == before  # the host's report is kept as it was
    assert validate_report(marked) == []
    old = join(cloud, {**reports, "compute0000": report}).to_dict()
    new = join(cloud, {**reports, "compute0000": marked}).to_dict()
    delta = g.diff(old, new)
    message = {"type": "topology.delta", "revision": 2, "base": 1, **delta}
    assert markers_in(message) == ["mk000042"]
    # Removing it (the next report carries the next marker) does not count as delivering it again.
    back = {"type": "topology.delta", "revision": 3, "base": 2, **g.diff(new, old)}
    assert markers_in(back) == []
    assert markers_in({"type": "topology.resync", "added": message["added"]}) == []
    body = orjson.dumps({"revision": 2, **new}).decode()
    assert set(MARKER_IN_BODY.findall(body)) == {"mk000042"}  # its node (and the edges naming it)


def test_synthetic_reports_are_valid_as_made_and_an_empty_iptables_is_still_refused() -> None:
    """bench/synthetic.py's qdhcp- namespaces carry empty nat/filter, as the agent sends them (they had
    ``{}``, which bench/ingest.py used to patch before posting); the validator still refuses ``{}``."""
    _, reports = synthetic_cloud(3, 6, 2, 1)
    assert {host: validate_report(report) for host, report in reports.items()} == {host: [] for host in reports}
    report = copy.deepcopy(reports["compute0000"])
    qdhcp = [ns for ns in report["namespaces"] if ns["name"].startswith("qdhcp-")]
    assert qdhcp and all(ns["iptables"] == {"nat": "", "filter": ""} for ns in qdhcp)
    qdhcp[0]["iptables"] = {}
    assert any("iptables" in reason for reason in validate_report(report))


def test_delivery_matches_accepted_markers_with_first_sightings() -> None:
    posts = [
        Post("h1", "mk000000", due=0.0, started=10.0, ended=10.2, status="202"),
        Post("h2", "mk000001", due=0.0, started=11.0, ended=11.5, status="202"),
        Post("h1", "mk000002", due=0.0, started=12.0, ended=12.1, status="202"),
        Post("h3", "mk000003", due=0.0, started=13.0, ended=13.1, status="500", detail="database is locked"),
        Post("h3", "mk000004", due=0.0, status="not sent"),
    ]
    seen = {"mk000000": 10.5, "mk000002": 12.4, "mk000003": 14.0}
    got = delivery(posts, seen)
    assert sorted(round(v, 3) for v in got.latencies) == [0.4, 0.5]  # the refused one is not counted
    assert [p.marker for p in got.never] == ["mk000001"]
    assert got.superseded == 0  # h2 sent nothing later
    seen_later = {**seen, "mk000005": 16.0}
    posts.append(Post("h2", "mk000005", due=0.0, started=15.0, ended=15.1, status="202"))
    assert delivery(posts, seen_later).superseded == 1  # mk000001 replaced by h2's later report, which was seen
    assert delivery(posts, seen, {"mk000001": 20.0}).by_resync == 1  # read from REST after a reconnection
    assert status_counts(posts) == {"202": 4, "500": 1, "not sent": 1}
    assert refusals(posts) == {"500 database is locked": 1}
    page = "\n<!doctype html>\n<html><head>\n  <title>Server Error (500)</title>\n</head><body></body></html>"
    assert refusals([Post("h1", None, 0.0, status="500", detail=page)]) == {"500 Server Error (500)": 1}


def test_status_labels_and_ratios() -> None:
    import requests

    assert status_label(429) == "429"
    assert status_label(None, requests.ReadTimeout("slow")) == "timeout"
    assert status_label(None, requests.ConnectionError("refused")) == "ConnectionError"
    assert ratio(0.1, 0.05) == "2.00x"
    assert ratio(float("nan"), 1.0) == "n/a"
    assert ratio(1.0, 0.0) == "n/a"


def test_client_frames_are_masked_and_decode() -> None:
    for size in (5, 200, 70_000):
        payload = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
        data = frame(TEXT, payload)
        assert data[0] == 0x80 | TEXT
        assert data[1] & 0x80  # masked
        n, at = data[1] & 0x7F, 2
        if n == 126:
            (n,), at = struct.unpack("!H", data[2:4]), 4
        elif n == 127:
            (n,), at = struct.unpack("!Q", data[2:10]), 10
        assert n == size
        mask, body = data[at : at + 4], data[at + 4 :]
        assert bytes(b ^ mask[i % 4] for i, b in enumerate(body)) == payload


def test_the_agents_retry_policy_and_who_got_in() -> None:
    assert [
        s for s in ("202", "400", "401", "403", "429", "500", "503", "timeout", "ConnectionError") if retried(s)
    ] == ["429", "500", "503", "timeout", "ConnectionError"]
    posts = [
        Post("h1", None, 0.0, status="500"),
        Post("h1", None, 0.0, status="202"),
        Post("h2", None, 0.0, status="timeout"),
    ]
    assert hosts_in(posts) == {"h1"}


def test_exceptions_are_read_from_a_daphne_log() -> None:
    log = """Internal Server Error: /api/v1/agents/report/
Traceback (most recent call last):
  File "x.py", line 1, in execute
sqlite3.OperationalError: database is locked

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
django.db.utils.OperationalError: database is locked
127.0.0.1:5555 - - [02/Dec/2026:18:47:59] "POST /api/v1/agents/report/" 500 145
django.db.utils.OperationalError: database is locked
"""
    assert log_errors(log) == {
        "sqlite3.OperationalError: database is locked": 1,
        "django.db.utils.OperationalError: database is locked": 2,
    }
