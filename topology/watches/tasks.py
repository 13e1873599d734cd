"""The watches' Celery tasks: re-explain after a revision, deliver a webhook (retried with backoff)."""

from __future__ import annotations

import logging

from celery import Task, shared_task

from topology.watches.models import WatchEvent

log = logging.getLogger(__name__)
CHECK_WATCHES = "topology.check_watches"
DELIVER_WEBHOOK = "topology.deliver_webhook"
MAX_RETRIES = 4  # after the first attempt: 5 in all, 2, 4, 8, 16 s apart


@shared_task(name=CHECK_WATCHES, ignore_result=True)
def check_watches(revision: int) -> int:
    from topology.watches.check import check_revision

    return len(check_revision(revision))


@shared_task(bind=True, name=DELIVER_WEBHOOK, ignore_result=True, max_retries=MAX_RETRIES)
def deliver_webhook(self: Task, event_id: int) -> str:
    from topology.watches.check import message
    from topology.watches.webhook import ForbiddenWebhook, post

    event = WatchEvent.objects.select_related("watch").filter(pk=event_id).first()
    if event is None or not event.watch.webhook_url:
        return "gone"
    event.webhook_attempts += 1
    try:
        post(event.watch.webhook_url, event.watch.secret, message(event))
    except ForbiddenWebhook as exc:  # the host now resolves to a forbidden address: no POST, no retry
        event.webhook_error, event.webhook_state = str(exc)[:500], "failed"
        event.save(update_fields=["webhook_attempts", "webhook_error", "webhook_state"])
        return "forbidden"
    except Exception as exc:  # refused, timed out, HTTP >= 400: retried, then shown as failed on the page
        event.webhook_error = f"{type(exc).__name__}: {exc}"[:500]
        last = self.request.retries >= MAX_RETRIES
        event.webhook_state = "failed" if last else "pending"
        event.save(update_fields=["webhook_attempts", "webhook_error", "webhook_state"])
        if last:
            return "failed"
        raise self.retry(exc=exc, countdown=2 ** (self.request.retries + 1)) from exc
    event.webhook_state, event.webhook_error = "sent", ""
    event.save(update_fields=["webhook_attempts", "webhook_error", "webhook_state"])
    return "sent"


def queue_webhook(event_id: int) -> None:
    """Hand the delivery to Celery; the broker away: marked failed at once (shown on the page)."""
    try:
        deliver_webhook.delay(event_id)
    except Exception as exc:  # kombu/redis connection errors
        log.warning("watch event %s: webhook not queued: %s", event_id, exc)
        WatchEvent.objects.filter(pk=event_id).update(webhook_state="failed", webhook_error=f"not queued: {exc}"[:500])


def queue_check(revision: int) -> None:
    """After a revision is recorded (on commit): the watches' check, in a worker."""
    try:
        check_watches.delay(revision)
    except Exception as exc:
        log.warning("revision %s: watches not checked: %s", revision, exc)


def after_revision(revision: int) -> None:
    """Called when a revision has committed (topology/history/record.py): the check queued if anything is watched."""
    from topology.watches.models import Watch

    if Watch.objects.exists():
        queue_check(revision)
