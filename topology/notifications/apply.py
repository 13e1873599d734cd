"""A notification's plan applied: the objects it names re-read, the snapshot patched, the writer marked.

The re-read is one list call per (collection, filter field) with every value at once
(``GET /v2.0/ports?id=A&id=B``), as the dashboard's own account (admin on the lab:
it reads every project's objects). An object the answer lacks is gone: it leaves the
snapshot. :func:`patched` is pure; :func:`apply_plan` does the calls and the writes.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import openstack.connection
from django.conf import settings
from django.db import transaction

from topology import graphservice, ingest_queue, services
from topology.cloud import cached_service_connection, service_connection
from topology.collector import NETWORK_RESOURCES, collect_scheduling, list_all
from topology.models import CloudSnapshot
from topology.notifications.events import Lookup, Plan
from topology.scheduling import DHCP_SCHEDULE_KEY, L3_HA_STATES_KEY, L3_SCHEDULE_KEY

log = logging.getLogger(__name__)
JsonDict = dict[str, Any]
PATHS = {name: (path, key) for name, path, key in NETWORK_RESOURCES}
Fresh = dict[Lookup, list[JsonDict]]


@dataclass(frozen=True)
class Reread:
    """What the API answered for a plan."""

    fresh: Fresh
    scheduling: dict[str, list[JsonDict]] | None  # the two scheduling keys, when the plan asked
    api_calls: int
    seconds: float


# --------------------------------------------------------------------------- pure


def patched(data: JsonDict, fresh: Fresh, scheduling: dict[str, list[JsonDict]] | None = None) -> JsonDict:
    """``data`` (a cloud snapshot) with each lookup's objects replaced by what the API answered now:
    the objects matching the filter removed, the fresh ones put in their place (by id, wherever they were)."""
    out = dict(data)
    by_collection: dict[str, list[tuple[Lookup, list[JsonDict]]]] = defaultdict(list)
    for lookup, answer in fresh.items():
        by_collection[lookup.collection].append((lookup, answer))
    for collection, answers in by_collection.items():
        matched = {(lookup.field, lookup.value) for lookup, _ in answers}
        fields = {f for f, _ in matched}
        now = {obj["id"]: obj for _, answer in answers for obj in answer if isinstance(obj.get("id"), str)}
        placed: set[str] = set()
        objects: list[JsonDict] = []
        for obj in out.get(collection) or []:
            object_id = obj.get("id")
            if isinstance(object_id, str) and object_id in now:
                if object_id not in placed:  # the new version where the old one was
                    objects.append(now[object_id])
                    placed.add(object_id)
            elif not any((f, obj.get(f)) in matched for f in fields):
                objects.append(obj)
        objects.extend(now[i] for i in sorted(now) if i not in placed)
        out[collection] = objects
    if scheduling is not None:
        out.update(scheduling)
    return out


def grouped(lookups: frozenset[Lookup]) -> dict[tuple[str, str], list[str]]:
    """The lookups by (collection, field): one list call each."""
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for lookup in sorted(lookups):
        groups[(lookup.collection, lookup.field)].append(lookup.value)
    return dict(groups)


def answers_of(collection: str, field: str, values: list[str], objects: list[JsonDict]) -> Fresh:
    """One list call's answer split back into its lookups."""
    return {Lookup(collection, field, v): [obj for obj in objects if obj.get(field) == v] for v in values}


# --------------------------------------------------------------------------- the calls


def reread(conn: openstack.connection.Connection, plan: Plan, agents: list[JsonDict]) -> Reread:
    started = time.perf_counter()
    fresh: Fresh = {}
    calls = 0
    for (collection, field), values in grouped(plan.lookups).items():
        path, key = PATHS[collection]
        for start in range(0, len(values), 50):  # a URL of reasonable length
            chunk = values[start : start + 50]
            fresh.update(answers_of(collection, field, chunk, list_all(conn.network, path, key, {field: chunk})))
            calls += 1
    scheduling = None
    if plan.scheduling and agents:
        scheduling = collect_scheduling(conn.network, agents)
        scheduling.setdefault(L3_SCHEDULE_KEY, [])
        scheduling.setdefault(DHCP_SCHEDULE_KEY, [])
        calls += len(scheduling[L3_SCHEDULE_KEY]) + len(scheduling[DHCP_SCHEDULE_KEY])
        calls += len({s["router_id"] for s in scheduling.get(L3_HA_STATES_KEY, [])})  # one per HA router
    return Reread(fresh, scheduling, calls, time.perf_counter() - started)


def apply_plan(plan: Plan, conn: openstack.connection.Connection | None = None) -> Reread | None:
    """Re-read what ``plan`` names, patch the stored snapshot and mark the graph writer; None when there
    is no snapshot yet (the first full refresh makes it) or nothing to read."""
    if not plan:
        return None
    current = CloudSnapshot.objects.latest_snapshot()
    if current is None:
        return None
    try:
        answer = reread(conn or service_connection(), plan, current.data.get("agents") or [])
    except Exception:
        cached_service_connection.cache_clear()  # a kept connection with dead sockets or token: afresh next time
        raise
    with transaction.atomic():
        # The newest snapshot under its row lock: a full refresh stored meanwhile is patched, not lost.
        row = CloudSnapshot.objects.select_for_update().order_by("-id").first()
        if row is None:
            return None
        services.store_snapshot(
            patched(row.data, answer.fresh, answer.scheduling), row.cloud, row.api_calls, row.duration
        )
    mark_writer()
    return answer


def mark_writer() -> None:
    """The snapshot into the graph: the one writer marked (queue mode), else joined here (the cloud only)."""
    if settings.GRAPH_WRITER == "queue":
        try:
            ingest_queue.mark_and_schedule(ingest_queue.CLOUD_MARK)
            return
        except ingest_queue.QueueDown as exc:
            log.warning("the graph queue is unreachable (%s): the patched snapshot is joined here", exc)
    graphservice.apply(cloud=True)
