"""Refreshing, ingesting and re-joining: the only code that writes the graph.

Every change goes through the graph service's writer (topology/graphservice/):
:func:`rebuild_graph` applies everything, ``graphservice.apply(hosts, cloud)``
what changed; it bumps the revision only if the graph really changed and
publishes the delta to the Channels group ``topology``. A view's response is
made on demand, once per revision and scope (:func:`graph_view`).
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import secrets
import threading
from datetime import datetime, timedelta
from typing import Any

import orjson
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from keystoneauth1 import exceptions as ksa_exceptions

from dashboard.isotime import parse_time
from topology import graph as g
from topology import graphservice, ingest_queue
from topology.cloud import cached_service_connection, service_connection
from topology.collector import collect_cloud
from topology.freshness import stale_hosts
from topology.graphservice import store
from topology.graphservice.fragments import view_body
from topology.join import JoinCache, digest
from topology.models import (
    AgentToken,
    CloudSnapshot,
    GraphState,
    GraphView,
    HostReport,
    HostReportChange,
)
from topology.ovn.collect import OvnRemotes
from topology.report_inventory import (
    Inventory,
    changed,
    decode_inventory,
    encode_inventory,
    inventory_change,
    report_inventory,
)
from topology.scope import scope_graph

log = logging.getLogger(__name__)
TOPOLOGY_GROUP = "topology"


class ReportRejected(ValueError):
    """A report that must not be stored; ``reasons`` say why (the 400 body)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


# --------------------------------------------------------------------------- agent tokens


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_agent_token(host: str) -> str:
    """A new secret for ``host`` (replacing any older one); only its hash is stored.

    Never one that begins with "-": given as ``--token <t>``, the agent's argument parser would take it
    for an option and exit (1 token in 64 did; CI lost a lab test's agent to it twice).
    """
    token = secrets.token_urlsafe(32)
    while token.startswith("-"):
        token = secrets.token_urlsafe(32)
    AgentToken.objects.update_or_create(host=host, defaults={"token_sha256": hash_token(token)})
    return token


def bearer(authorization: str) -> str:
    """The token of an ``Authorization: Bearer <token>`` header value; "" for any other value."""
    return authorization[len("Bearer ") :].strip() if authorization.startswith("Bearer ") else ""


def host_for_token(token: str) -> str | None:
    row = AgentToken.objects.filter(token_sha256=hash_token(token)).only("host").first()
    return row.host if row else None


# --------------------------------------------------------------------------- ingest


def summarize_report_change(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """Namespaces, interfaces and bridges that appeared or went away between two reports."""
    return inventory_change(report_inventory(old) if old is not None else None, report_inventory(new))


def store_report(host: str, report: dict[str, Any], size: int) -> HostReport:
    """Keep the latest report of ``host`` and a history entry when something changed.

    The change is found from the previous report's stored inventory (topology/report_inventory.py),
    not by decoding the previous report; one row read (its id, digest and inventory), one written.
    """
    now = timezone.now()
    report_digest = hex_digest(report)
    after = report_inventory(report)
    fields: dict[str, Any] = {
        "collected_at": parse_time(report["collected_at"]),
        "received_at": now,
        "size": size,
        "report": report,
        "digest": report_digest,
        "inventory": encode_inventory(after, report_digest),
    }
    with transaction.atomic():
        previous = (
            HostReport.objects.select_for_update().filter(host=host).values_list("id", "digest", "inventory").first()
        )
        before = previous_inventory(*previous) if previous is not None else None
        summary = inventory_change(before, after)
        if changed(summary):
            HostReportChange.objects.create(host=host, received_at=now, summary=summary)
        if previous is None:  # the host's first report (update_or_create: another first report may race it)
            row, _ = HostReport.objects.update_or_create(host=host, defaults=fields)
            return row
        HostReport.objects.filter(id=previous[0]).update(**fields)
    return HostReport(id=previous[0], host=host, **fields)


def previous_inventory(row_id: int, row_digest: str, text: str) -> Inventory:
    """The stored report's inventory; its report decoded only when the row has none it can trust."""
    stored = decode_inventory(text, row_digest)
    if stored is not None:
        return stored
    return report_inventory(HostReport.objects.filter(id=row_id).values_list("report", flat=True).first())


# --------------------------------------------------------------------------- cloud refresh


def ovn_remotes() -> OvnRemotes:
    """OVN's databases as configured (both empty: not an OVN cloud)."""
    return OvnRemotes(settings.OVN_NB_CONNECTION, settings.OVN_SB_CONNECTION, float(settings.OVN_TIMEOUT))


def refresh_cloud() -> CloudSnapshot:
    """Collect the cloud once (shared by every browser) and re-join."""
    try:
        collected = collect_cloud(service_connection(), ovn_remotes())
    except ksa_exceptions.ConnectionError:
        # The kept connection may hold sockets a restarted API server has closed: start afresh once.
        cached_service_connection.cache_clear()
        collected = collect_cloud(service_connection(), ovn_remotes())
    snapshot = store_snapshot(collected.data, settings.DASHBOARD_CLOUD, collected.api_calls, collected.duration)
    log.info("cloud %s: %d API calls in %.2fs", snapshot.cloud, snapshot.api_calls, snapshot.duration)
    apply_cloud()
    return snapshot


def store_snapshot(data: dict[str, Any], cloud: str, api_calls: int = 0, duration: float = 0.0) -> CloudSnapshot:
    """Keep ``data`` as the cloud snapshot (the one row replaced) with its digest; not joined here."""
    snapshot = CloudSnapshot.objects.latest_snapshot() or CloudSnapshot()
    snapshot.cloud = cloud
    snapshot.collected_at = timezone.now()
    snapshot.data = data
    snapshot.digest = hex_digest(data)
    snapshot.api_calls = api_calls
    snapshot.duration = duration
    snapshot.save()
    return snapshot


def apply_cloud() -> None:
    """The new snapshot into the graph, with the refresh's safety net: every host's stored report
    compared with the one applied (by digest; only changed ones re-read) and every host's
    freshness re-checked, so that a report stored without its mark, or a host gone silent, shows.

    By the one graph writer in the queue mode (the refresh is marked for it), so that a refresh
    in a jobs' worker or a web process is not a second writer (each would re-read everything the
    other wrote); here in the inline mode, or when Redis is away.
    """
    if settings.GRAPH_WRITER == "queue":
        try:
            ingest_queue.mark_and_schedule(ingest_queue.CLOUD_MARK)
        except ingest_queue.QueueDown as exc:
            log.warning("the graph queue is unreachable (%s): the cloud snapshot is joined here", exc)
        else:
            return
    rebuild_graph()


# --------------------------------------------------------------------------- graph


def hex_digest(value: object) -> str:
    """What the join's cache keys an input by (topology.join.digest), made once when it is stored."""
    made = digest(value)
    return made.hex() if made is not None else ""


def stale_now() -> dict[str, str]:
    """Hosts whose last report arrived more than HOST_STALE_SECONDS ago (topology.freshness)."""
    received = dict(HostReport.objects.values_list("host", "received_at"))
    return stale_hosts(received, timezone.now(), timedelta(seconds=settings.HOST_STALE_SECONDS))


# This process's last join, by part: the graph service's writer (topology/graphservice/)
# re-joins only the hosts whose report changed (or the logical part after a cloud refresh)
# plus the cross joins. A join updates the cache as it goes: one join at a time per process.
JOIN_CACHE = JoinCache()
JOIN_LOCK = threading.Lock()


def rebuild_graph() -> GraphState:
    """Apply everything: every stored input compared with the writer's by digest, re-joined;
    if the graph changed, bump the revision, store the parts it touched and publish the delta.

    Hosts without a fresh report are marked stale: the beat refresh rebuilds, so a host
    turns stale without any report arriving, and fresh again with its next one.
    """
    return graphservice.apply(everything=True)


def publish_delta(revision: int, delta: g.Delta) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(TOPOLOGY_GROUP, {"type": "topology.delta", "revision": revision, **delta})
    except Exception as exc:  # Redis down: the browsers resync from the REST API later
        log.warning("could not publish revision %d: %s", revision, exc)


def publish_reset(revision: int) -> None:
    """Say the graph was written whole at ``revision`` (no delta: the writer's start with no stored graph):
    each map's socket asks its page to load it again from the REST API (consumers.py ``topology_reset``)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(TOPOLOGY_GROUP, {"type": "topology.reset", "revision": revision})
    except Exception as exc:  # Redis down: the browsers resync from the REST API later
        log.warning("could not publish the reset of revision %d: %s", revision, exc)


def serialize_view(state: GraphState, view: str, scope: str | None) -> bytes:
    """The topology response body (gzip level 1: ~6x smaller, ~0.2 s per 50 MB).

    An admin's view is the stored parts' fragments joined (topology/graphservice/fragments.py),
    read at ``state``'s revision; otherwise (a project's scope, parts without fragments, or a
    revision written meanwhile) the assembled graph is scoped.
    """
    if scope is None:
        fragments = store.stored_fragments()
        if fragments is not None and current_state_key() == (state.revision, state.generated_at):
            body_json = view_body(state.revision, state.generated_at, view, fragments)
            return gzip.compress(body_json, compresslevel=1)
    body = {
        "revision": state.revision,
        "generated_at": state.generated_at.isoformat() if state.generated_at else None,
        **scope_graph(state.graph, view, scope),
    }
    return gzip.compress(orjson.dumps(body), compresslevel=1)


def store_view(state: GraphState, view: str, scope: str | None) -> bytes:
    body = serialize_view(state, view, scope)
    GraphView.objects.update_or_create(
        view=view, scope=scope or "", defaults={"revision": state.revision, "body_gzip": body}
    )
    return body


def graph_view(view: str, scope: str | None) -> bytes:
    """The gzipped topology body of ``view`` for ``scope`` at the current revision, made once per revision."""
    revision = current_revision()
    row = GraphView.objects.filter(view=view, scope=scope or "", revision=revision).only("body_gzip").first()
    if row is not None and revision:
        return bytes(row.body_gzip)
    return store_view(graph_state(), view, scope)


def current_state_key() -> tuple[int, datetime | None] | None:
    row = GraphState.objects.the_row().values_list("revision", "generated_at").first()
    return (row[0], row[1]) if row else None


def current_revision() -> int:
    return GraphState.objects.the_row().values_list("revision", flat=True).first() or 0


def graph_state() -> GraphState:
    state = GraphState.objects.the_row().first()
    return state if state is not None else rebuild_graph()
