"""Prometheus metrics at ``/metrics`` (text format), for a scrape token or an admin's session.

Daphne and the Celery worker are separate processes, so what the database holds is
read at scrape time by :class:`DatabaseCollector`, whichever process answers:
hosts' report ages and staleness, Neutron's agents as last collected, the graph's
revision, the writer lag, jobs by kind and state, the last refresh's cloud API calls,
the history's size, the watched paths' verdicts. Two histograms are kept in process memory and so cover only the
process serving ``/metrics`` (Daphne):

- ``neutron_map_ingest_request_seconds``: the agent report POST, first middleware to
  response (:class:`IngestLatencyMiddleware`), by status code;
- ``neutron_map_delta_latency_seconds``: for a revision that applied host reports, the
  time from the oldest such report's receipt to the revision being written
  (observed by topology.history.record where the revision is made: Daphne for a
  report's own rebuild; a Celery worker's rebuilds are not in it).

Writer lag (``neutron_map_writer_lag_seconds``, from the database): the same quantity
for the newest revision that applied a host report: revision time minus the receipt of
the oldest report it applied that arrived after the revision before it.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, Sum
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from dashboard.auth import session_caller
from topology.freshness import stale_hosts
from topology.models import CloudSnapshot, GraphRevision, GraphState, HostReport

PREFIX = "neutron_map"
REPORT_PATH = "/api/v1/agents/report/"
REGISTRY = CollectorRegistry(auto_describe=True)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

INGEST_LATENCY = Histogram(
    f"{PREFIX}_ingest_request_seconds",
    "Agent report POSTs, from the first middleware to the response (this process only)",
    ["code"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
DELTA_LATENCY = Histogram(
    f"{PREFIX}_delta_latency_seconds",
    "Receipt of the oldest host report a revision applied to the revision written (this process only)",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)


def gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=labels)


class DatabaseCollector(Collector):
    """What every process shares, read from the database at each scrape."""

    def describe(self) -> list[Metric]:
        return []  # registering must not query the database (it runs at import)

    def collect(self) -> Iterator[Metric]:
        yield from host_metrics()
        yield from agent_metrics()
        yield from graph_metrics()
        yield from job_metrics()
        yield from cloud_metrics()
        yield from watch_metrics()


def host_metrics() -> Iterator[Metric]:
    now = timezone.now()
    received = dict(HostReport.objects.values_list("host", "received_at"))
    stale = stale_hosts(received, now, timedelta(seconds=settings.HOST_STALE_SECONDS))
    age = gauge("host_report_age_seconds", "Seconds since the host's last accepted agent report", ["host"])
    flag = gauge("host_stale", "1 if the host's last report is older than the stale bound", ["host"])
    for host, at in sorted(received.items()):
        age.add_metric([host], (now - at).total_seconds())
        flag.add_metric([host], 1.0 if host in stale else 0.0)
    count = gauge("stale_hosts", "Hosts whose last report is older than the stale bound")
    count.add_metric([], len(stale))
    yield from (age, flag, count)


def agent_metrics() -> Iterator[Metric]:
    """Neutron's agents as the last cloud refresh listed them (admin-only in Neutron: empty for a member's cloud)."""
    agents = CloudSnapshot.objects.order_by("-id").values_list("data__agents", flat=True).first() or []
    alive = gauge("agent_alive", "1 if Neutron reports the agent alive", ["host", "agent_type"])
    up = gauge("agent_admin_state_up", "1 if the agent's admin state is up", ["host", "agent_type"])
    for agent in agents if isinstance(agents, list) else []:
        labels = [str(agent.get("host", "")), str(agent.get("agent_type", ""))]
        alive.add_metric(labels, 1.0 if agent.get("alive") else 0.0)
        up.add_metric(labels, 1.0 if agent.get("admin_state_up", True) else 0.0)
    yield from (alive, up)


def graph_metrics() -> Iterator[Metric]:
    row = GraphState.objects.the_row().values_list("revision", "generated_at").first()
    revision = gauge("graph_revision", "The joined graph's current revision")
    revision.add_metric([], row[0] if row else 0)
    age = gauge("graph_revision_age_seconds", "Seconds since the current revision was made")
    if row and row[1]:
        age.add_metric([], (timezone.now() - row[1]).total_seconds())
    lag = gauge(
        "writer_lag_seconds", "For the newest revision that applied host reports: receipt of the oldest to the revision"
    )
    latest = GraphRevision.objects.filter(writer_lag__isnull=False).order_by("-revision")
    lag_value = latest.values_list("writer_lag", flat=True).first()
    if lag_value is not None:
        lag.add_metric([], lag_value)
    history = GraphRevision.objects.aggregate(rows=Count("id"), size=Sum("size"))
    rows = gauge("history_revisions", "Revisions kept in the graph's history")
    rows.add_metric([], history["rows"] or 0)
    size = gauge("history_bytes", "Bytes the graph's history keeps (deltas and checkpoints, gzip)")
    size.add_metric([], history["size"] or 0)
    yield from (revision, age, lag, rows, size)


def job_metrics() -> Iterator[Metric]:
    from tasks.models import Job, JobKind, JobState

    found = {(k, s): n for k, s, n in Job.objects.values_list("kind", "state").annotate(n=Count("id")).order_by()}
    jobs = gauge("jobs", "Jobs kept, by kind and state", ["kind", "state"])
    for kind in JobKind.ALL:
        for state in JobState.ALL:
            jobs.add_metric([kind, state], found.get((kind, state), 0))
    yield jobs


def cloud_metrics() -> Iterator[Metric]:
    snapshot = CloudSnapshot.objects.order_by("-id").values_list("api_calls", "duration", "collected_at").first()
    calls = gauge("cloud_api_calls_per_refresh", "HTTP requests the last cloud refresh made to the cloud's APIs")
    duration = gauge("cloud_refresh_duration_seconds", "How long the last cloud refresh took")
    age = gauge("cloud_snapshot_age_seconds", "Seconds since the last cloud refresh")
    if snapshot:
        calls.add_metric([], snapshot[0])
        duration.add_metric([], snapshot[1])
        age.add_metric([], (timezone.now() - snapshot[2]).total_seconds())
    yield from (calls, duration, age)


# A watch's verdict as the explainer says it, "absent" when an end is gone (topology.watches.check),
# "none" before its first explanation.
WATCH_VERDICTS = ("ok", "unknown", "broken", "absent", "none")


def watch_metrics() -> Iterator[Metric]:
    """Watched paths by id only (no endpoints, names or urls as labels): the verdict, its last change."""
    from topology.watches.models import Watch

    rows = list(
        Watch.objects.order_by("id").annotate(changed=Max("events__at")).values_list("id", "last_verdict", "changed")
    )
    verdict = gauge(
        "watch_verdict", "1 for the watched path's current verdict, 0 for the others", ["watch_id", "verdict"]
    )
    changed = gauge("watch_last_change_timestamp_seconds", "Unix time of the watch's last verdict change", ["watch_id"])
    counts = dict.fromkeys(WATCH_VERDICTS, 0)
    for pk, last, at in rows:
        now = last if last in WATCH_VERDICTS else "none"
        counts[now] += 1
        for each in WATCH_VERDICTS:
            verdict.add_metric([str(pk), each], 1.0 if each == now else 0.0)
        if at is not None:
            changed.add_metric([str(pk)], at.timestamp())
    by_verdict = gauge("watches", "Watched paths, by current verdict", ["verdict"])
    for each in WATCH_VERDICTS:
        by_verdict.add_metric([each], counts[each])
    yield from (verdict, changed, by_verdict)


REGISTRY.register(DatabaseCollector())


class IngestLatencyMiddleware:
    """Times the agent report POSTs (first in MIDDLEWARE: the whole request as Django sees it)."""

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        if request.method != "POST" or request.path != REPORT_PATH:
            return self.get_response(request)
        start = time.perf_counter()
        response = self.get_response(request)
        INGEST_LATENCY.labels(code=str(response.status_code)).observe(time.perf_counter() - start)
        return response


def scrape_refusal(request: HttpRequest) -> HttpResponse | None:
    """None when the caller may scrape: the scrape token as ``Authorization: Bearer``, or an admin's session."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header.startswith("Bearer "):
        expected = settings.METRICS_TOKEN
        if expected and hmac.compare_digest(header[len("Bearer ") :].strip().encode(), expected.encode()):
            return None
        return refusal(401, "the scrape token is not DASHBOARD_METRICS_TOKEN")
    caller = session_caller(request)
    if caller is None:
        return refusal(401, "send Authorization: Bearer <DASHBOARD_METRICS_TOKEN>, or log in as an admin")
    if not caller.is_admin:
        return refusal(403, "metrics need the admin role or the scrape token")
    return None


def refusal(status: int, detail: str) -> HttpResponse:
    response = HttpResponse(detail + "\n", status=status, content_type="text/plain; charset=utf-8")
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


def metrics_view(request: HttpRequest) -> HttpResponse:
    refused = scrape_refusal(request)
    if refused is not None:
        return refused
    response = HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response
