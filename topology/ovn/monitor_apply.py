"""The OVN monitor's changes into the product: the snapshot's ``ovn`` replaced, the graph writer marked.

Under the snapshot's row lock, as the notifications' patch (topology/notifications/apply.py): a full
refresh stored meanwhile keeps its Neutron part and gets the monitor's OVN part. Nothing is stored or
joined when OVN's part is what the snapshot already holds (the first dump after a connect, usually).
The monitor's state (each database connected or not, its error, the last change's time) is kept in
Redis for the status API of every web process.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from django.db import transaction

from topology import ingest_queue, services
from topology.kinds import OVN_SNAPSHOT_KEY
from topology.models import CloudSnapshot
from topology.notifications.apply import mark_writer
from topology.ovn.monitor import OvnMonitor

log = logging.getLogger(__name__)
STATE_KEY = ingest_queue.PREFIX + "ovn-monitor"
HEARTBEAT_TTL_SECONDS = 30


def apply_ovn(ovn: dict[str, Any]) -> bool:
    """Put ``ovn`` in the stored snapshot and mark the writer; False when there is no snapshot yet (the first
    refresh makes it) or it already holds exactly this."""
    with transaction.atomic():
        row = CloudSnapshot.objects.select_for_update().order_by("-id").first()
        if row is None or row.data.get(OVN_SNAPSHOT_KEY) == ovn:
            return False
        services.store_snapshot({**row.data, OVN_SNAPSHOT_KEY: ovn}, row.cloud, row.api_calls, row.duration)
    mark_writer()
    last_change[0] = datetime.now(UTC).isoformat()
    return True


last_change: list[str | None] = [None]  # the process's last applied change (one monitor per process)


def write_state(monitor: OvnMonitor) -> None:
    state = {**monitor.state(), "last_change_at": last_change[0]}
    try:
        ingest_queue.client().set(STATE_KEY, json.dumps(state), ex=HEARTBEAT_TTL_SECONDS)
    except ingest_queue.QueueDown as exc:
        log.warning("could not record the OVN monitor's state: %s", exc)


def read_state() -> dict[str, Any] | None:
    """The monitor's last state; None when none runs (or Redis is away)."""
    try:
        raw = ingest_queue.client().get(STATE_KEY)
    except ingest_queue.QueueDown:
        return None
    try:
        state = json.loads(raw) if raw else None
    except ValueError:
        return None
    return state if isinstance(state, dict) else None
