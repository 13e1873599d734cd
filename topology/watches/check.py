"""A recorded revision's watches re-explained: those whose hops its delta touches; a verdict change noted and sent.

:func:`check_revision` runs in a Celery task (topology.watches.tasks.check_watches), never in the
graph writer's transaction. A change of verdict is a WatchEvent (the watch's timeline), a message
to the watch's user's websocket group (``watch.verdict``) and, with a webhook url, a signed POST
(topology.watches.webhook, retried by Celery).
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from topology.history.causes import touched_ids
from topology.history.delta import decode
from topology.history.models import GraphRevision
from topology.watches.models import Watch, WatchEvent

log = logging.getLogger(__name__)


def user_group(user_id: str) -> str:
    """The websocket group of one user's pages (letters, digits, - _ . only, as Channels wants)."""
    return "watches." + "".join(c if c.isalnum() or c in "-_." else "_" for c in user_id)[:90]


def hops_of(result: dict[str, Any]) -> list[str]:
    """The node ids an explanation went through: its ends, its hops and return hops, its problems' nodes."""
    ids = [result["src"].get("node"), result["dst"].get("node")]
    ids += [h.get("node") for h in (*result["hops"], *result.get("return_hops", []))]
    ids += [p.get("node") for p in result["problems"]]
    return sorted({i for i in ids if i})


def touched(revision: int) -> list[Watch]:
    """The watches whose hops the revision's delta touches; every watch after a reset row (the whole graph
    written, no delta: anything may have changed, and a re-check whose verdict stays says nothing)."""
    row = GraphRevision.objects.filter(revision=revision).values_list("reset", "delta_gz").first()
    if row is None:
        return []
    if row[0]:
        return list(Watch.objects.all())
    ids = touched_ids(decode(row[1]))  # type: ignore[arg-type]
    return [w for w in Watch.objects.all() if ids.intersection(w.hops)]


def recheck(watch: Watch) -> WatchEvent | None:
    """Explain the watch's path again in its scope; its event when the verdict changed."""
    from topology.path import PathError
    from topology.watches.api import explained

    try:
        revision, result = explained(watch.project_id, watch.src, watch.dst, watch.probe)
        verdict, hops = str(result["verdict"]), hops_of(result)
    except PathError:  # an end is gone (or no longer the caller's): the path is nothing now
        revision, verdict, hops = watch.last_revision or 0, "absent", watch.hops
    was = watch.last_verdict
    watch.last_verdict, watch.last_revision, watch.hops = verdict, revision, hops
    watch.save(update_fields=["last_verdict", "last_revision", "hops"])
    if verdict == was:
        return None
    state = "pending" if watch.webhook_url else ""
    return WatchEvent.objects.create(watch=watch, revision=revision, verdict=verdict, was=was, webhook_state=state)


def message(event: WatchEvent) -> dict[str, Any]:
    """What the websocket and the webhook carry of a verdict change."""
    watch = event.watch
    return {
        "watch": watch.pk,
        "src": watch.src,
        "dst": watch.dst,
        "probe": watch.probe,
        "verdict": event.verdict,
        "was": event.was or None,
        "revision": event.revision,
        "at": event.at.isoformat(),
    }


def push(event: WatchEvent) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        payload = {"type": "watch.verdict", "project_id": event.watch.project_id, **message(event)}
        async_to_sync(layer.group_send)(user_group(event.watch.user_id), payload)
    except Exception as exc:  # Redis down: the Watches page shows the timeline anyway
        log.warning("watch %s: could not push its verdict: %s", event.watch_id, exc)


def check_revision(revision: int) -> list[WatchEvent]:
    """Re-explain the watches the revision touches; each verdict change pushed and, with a webhook, queued."""
    from topology.watches.tasks import queue_webhook

    events = [e for e in map(recheck, touched(revision)) if e is not None]
    for event in events:
        push(event)
        if event.webhook_state == "pending":
            queue_webhook(event.pk)
    return events
