"""A job succeeds when its effect is observed, not when Neutron answers 2xx (issue 23).

The catalogue, one entry per job kind: ``kind -> (neutron_check, dataplane_check)``.
After the action (on every path, "already done" included, so a half-done
action never passes for "nothing to do"), :func:`confirm`

1. re-reads Neutron (tasks/effects.py): the object and the ports the action
   makes or removes. Not there: the job **fails** with what was found.
2. where node agents report, waits (``DASHBOARD_CONFIRM_TIMEOUT`` seconds,
   default 30) for a report received after the job was requested that shows
   the effect (tasks/dataplane.py): the qg-/qr- devices, the DNAT rules, the
   firewall chains (agents report on change: usually the next report). Not
   within the bound: the job ends **unconfirmed**, a state of its own, never
   a success. When no agent has reported for
   ``DASHBOARD_AGENT_STALE`` seconds (default 180, three default resync
   intervals), or no reporting host is where the effect would show, the
   message says that the data plane was not checked.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from tasks import dataplane, effects
from tasks.actions import Connection, Progress, Result
from tasks.dataplane import Facts, Observed, Reports
from tasks.models import Job, JobKind, JobState
from topology.models import HostReport

NeutronCheck = Callable[[Connection, Job, Result], Observed]
DataplaneCheck = Callable[[Facts, Reports], Observed | None]

CHECKS: dict[str, tuple[NeutronCheck, DataplaneCheck | None]] = {
    JobKind.FIP_ALLOCATE: (effects.fip_allocated, None),  # nothing in the data plane until associated
    JobKind.FIP_ASSOCIATE: (effects.fip_associated, dataplane.fip_nat_present),
    JobKind.FIP_DISASSOCIATE: (effects.fip_disassociated, dataplane.fip_nat_absent),
    JobKind.FIP_RELEASE: (effects.fip_released, dataplane.fip_nat_absent),
    JobKind.GATEWAY_SET: (effects.gateway_set, dataplane.gateway_device_present),
    JobKind.GATEWAY_CLEAR: (effects.gateway_cleared, dataplane.gateway_devices_only),
    JobKind.GATEWAY_REPAIR: (effects.gateway_repaired, dataplane.gateway_devices_only),
    JobKind.INTERFACE_ADD: (effects.interface_added, dataplane.interface_device_present),
    JobKind.INTERFACE_REMOVE: (effects.interface_removed, dataplane.interface_device_absent),
    JobKind.SECGROUP_OPEN: (effects.secgroup_opened, dataplane.firewall_open),
    JobKind.SECGROUP_CLOSE: (effects.secgroup_closed, dataplane.firewall_closed),
    JobKind.SECGROUP_RULE_DELETE: (effects.secgroup_rule_deleted, dataplane.firewall_rule_absent),
}

POLL = 0.5  # seconds between reads of the stored reports


@dataclass(frozen=True)
class Confirmation:
    state: str
    message: str
    result: Result


def seconds(name: str, default: float) -> float:
    return float(os.environ.get(name, "") or default)


def reports_since(since: datetime) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """(reports received after ``since`` by host, hosts whose agent still reports)."""
    stale = timezone.now() - timedelta(seconds=seconds("DASHBOARD_AGENT_STALE", 180))
    rows = list(HostReport.objects.filter(received_at__gte=min(stale, since)).only("host", "received_at", "report"))
    return {r.host: r.report for r in rows if r.received_at >= since}, {r.host for r in rows}


def watch_dataplane(
    check: DataplaneCheck, facts: Facts, since: datetime, progress: Progress
) -> tuple[Observed | None, float]:
    """The first fresh observation that shows the effect, or the last one at the bound (None: nothing to see)."""
    started = time.monotonic()
    deadline = started + seconds("DASHBOARD_CONFIRM_TIMEOUT", 30)
    progress(90, "waiting for the node agents to show the change")
    while True:
        fresh, reporting = reports_since(since)
        if not reporting:
            return None, 0.0
        seen = check(facts, fresh) if fresh else None
        elapsed = time.monotonic() - started
        if seen is not None and seen.ok:
            return seen, elapsed
        if seen is None and set(fresh) == reporting and elapsed >= seconds("DASHBOARD_CONFIRM_GRACE", 10):
            # every agent reported anew, for a while, and none is where it would show (a namespace the
            # L3 agent makes takes a report or two to appear: hence the grace)
            return None, elapsed
        if time.monotonic() >= deadline:
            waiting = sorted(reporting - set(fresh))
            return seen or Observed(False, f"no report since the request from {', '.join(waiting)}"), elapsed
        time.sleep(POLL)


def confirm(conn: Connection, job: Job, result: Result, progress: Progress) -> Confirmation:
    """Check the effect of ``job`` (whose action answered ``result``); TransientCloudError propagates (retry)."""
    neutron_check, dataplane_check = CHECKS[job.kind]
    said = str(result.get("message", "done"))
    progress(85, "checking the effect in Neutron")
    neutron = neutron_check(conn, job, result)
    observed: dict[str, Any] = {"neutron": neutron.message, "dataplane": None, "dataplane_ok": None, "seconds": 0.0}
    if not neutron.ok:
        observed.update(neutron.facts)
        return Confirmation(
            JobState.FAILED, f"{said}, but Neutron shows: {neutron.message}", {**result, "observed": observed}
        )
    if dataplane_check is None:
        return Confirmation(JobState.SUCCEEDED, f"{said}; Neutron: {neutron.message}", {**result, "observed": observed})
    seen, elapsed = watch_dataplane(dataplane_check, neutron.facts, job.created_at, progress)
    observed["seconds"] = round(elapsed, 2)
    if seen is None:
        observed["dataplane"] = "not checked: no node agent reports where this shows"
        return Confirmation(
            JobState.SUCCEEDED,
            f"{said}; Neutron: {neutron.message}; data plane not checked (no node agent reports where this shows)",
            {**result, "observed": observed},
        )
    observed.update(dataplane=seen.message, dataplane_ok=seen.ok)
    if not seen.ok:
        return Confirmation(
            JobState.UNCONFIRMED,
            f"{said}; Neutron: {neutron.message}; not confirmed in the "
            f"data plane after {elapsed:.0f} s: {seen.message}",
            {**result, "observed": observed},
        )
    return Confirmation(
        JobState.SUCCEEDED,
        f"{said}; Neutron: {neutron.message}; data plane: {seen.message} (after {elapsed:.1f} s)",
        {**result, "observed": observed},
    )
