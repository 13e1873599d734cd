"""The listener: kombu's ConsumerMixin on Neutron's notifications, applying them in small batches.

Neutron's oslo.messaging (``[oslo_messaging_notifications] driver = messagingv2``,
``topics = notifications``) publishes to the topic exchange ``neutron`` with the
routing key ``notifications.<priority>``. The listener binds a queue of its own
(``neutron-map.notifications``: every dashboard gets every event, and oslo's default
queue ``notifications.info`` is left to whoever else reads it), expiring an idle
while after the listener is gone and capped in length.

Messages are acked as they are read: a malformed or unknown one is logged and dropped;
a read one is added to the pending plan, applied once no more arrive for
:data:`BATCH_WAIT` seconds (a burst of ``port.create.end``s costs one re-read and one
join). An apply that fails (Neutron's API away) is logged and dropped: the periodic
refresh is the safety net. RabbitMQ away: kombu reconnects with backoff
(``ensure_connection``), the status says so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from kombu import Connection, Exchange, Queue
from kombu.exceptions import OperationalError
from kombu.message import Message
from kombu.mixins import ConsumerMixin

from topology.notifications import events, status
from topology.notifications.events import Plan

log = logging.getLogger(__name__)

EXCHANGE = "neutron"  # Neutron's control_exchange
TOPIC = "notifications"  # [oslo_messaging_notifications] topics
QUEUE = "neutron-map.notifications"
QUEUE_ARGUMENTS = {"x-expires": 10 * 60 * 1000, "x-max-length": 10000}
BATCH_WAIT = 0.05  # seconds without a new message before the pending plan is applied
BATCH_MAX = 500  # messages taken into one batch at most


def kombu_url(transport_url: str) -> str:
    """An oslo.messaging transport URL (``rabbit://user:pass@host:port/vhost``) as kombu's (``amqp://``)."""
    scheme, sep, rest = transport_url.partition("://")
    if not sep:
        raise ValueError(f"not a transport URL: {transport_url!r}")
    return f"amqp://{rest}" if scheme in ("rabbit", "kombu", "amqp", "pyamqp") else transport_url


def notifications_queue(name: str = QUEUE) -> Queue:
    """The listener's queue; one name per dashboard (listeners sharing a name share its events out)."""
    exchange = Exchange(EXCHANGE, type="topic", durable=False, auto_delete=False)
    return Queue(
        name,
        exchange=exchange,
        routing_key=f"{TOPIC}.*",
        durable=False,
        auto_delete=False,
        queue_arguments=QUEUE_ARGUMENTS,
    )


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


class NotificationListener(ConsumerMixin):
    """Reads Neutron's notifications and hands each batch's plan to ``handle``."""

    def __init__(self, url: str, handle: Callable[[Plan], object], queue: Queue | None = None) -> None:
        self.connection = Connection(kombu_url(url), heartbeat=30)
        self.handle = handle
        self.queue = queue or notifications_queue()
        self.pending = Plan()
        self.pending_count = 0
        self.consuming: Connection | None = None
        self.state: dict[str, Any] = {
            "state": "connecting",
            "since": now_iso(),
            "events": 0,
            "dropped": 0,
            "applied": 0,
            "failed": 0,
            "last_event_at": None,
            "last_event_type": None,
            "last_applied_at": None,
            "error": None,
        }
        self.written_at = 0.0

    # ------------------------------------------------------------------ kombu's hooks

    def get_consumers(self, consumer: Callable[..., Any], channel: Any) -> list[Any]:
        return [consumer(queues=[self.queue], callbacks=[self.on_message], accept=["json"], prefetch_count=BATCH_MAX)]

    def on_consume_ready(self, connection: Connection, channel: Any, consumers: Any, **kwargs: Any) -> None:
        self.consuming = connection
        self.set_state("listening", error=None)
        log.info("listening to Neutron's notifications on %s", connection.as_uri())

    def on_connection_error(self, exc: Exception, interval: float) -> None:
        self.consuming = None
        if self.should_stop:
            raise exc  # out of kombu's retry loop: run() ends
        self.set_state("reconnecting", error=f"{exc} (retry in {interval:.0f} s)")
        log.warning("RabbitMQ unreachable (%s): retrying in %.0f s", exc, interval)

    @contextmanager
    def extra_context(self, connection: Connection, channel: Any) -> Iterator[None]:
        try:
            yield
        except (*connection.connection_errors, *connection.channel_errors) as exc:
            # kombu's run() reconnects (ensure_connection: backoff); until then the status says so.
            self.consuming = None
            self.set_state("reconnecting", error=f"connection lost: {exc}")
            raise

    def on_decode_error(self, message: Message, exc: Exception) -> None:
        self.drop(f"undecodable body: {exc}")
        message.ack()

    def on_iteration(self) -> None:
        if self.pending_count:
            self.take_burst()
            self.flush()
        if time.monotonic() - self.written_at >= status.HEARTBEAT_SECONDS:
            self.write_state()

    # ------------------------------------------------------------------ messages

    def on_message(self, body: Any, message: Message) -> None:
        try:
            event = events.parse_envelope(body)
            plan = events.plan_for(event)
        except events.BadEvent as exc:
            self.drop(str(exc))
        else:
            self.state["events"] += 1
            self.state["last_event_at"], self.state["last_event_type"] = now_iso(), event.event_type
            if plan:
                self.pending = self.pending | plan
                self.pending_count += 1
        finally:
            message.ack()

    def drop(self, why: str) -> None:
        self.state["dropped"] += 1
        log.warning("notification dropped: %s", why)

    def take_burst(self) -> None:
        """The messages already on their way joined into the pending batch (kombu delivers them to on_message)."""
        connection = self.consuming
        if connection is None:
            return
        for _ in range(BATCH_MAX):
            try:
                connection.drain_events(timeout=BATCH_WAIT)
            except TimeoutError:
                return

    def flush(self) -> None:
        plan, count = self.pending, self.pending_count
        self.pending, self.pending_count = Plan(), 0
        try:
            self.handle(plan)
        except Exception as exc:  # the API away, a database error: the periodic refresh catches up
            self.state["failed"] += 1
            self.state["error"] = f"applying {count} event(s) failed: {exc}"
            log.exception("applying %d notification(s) failed", count)
        else:
            self.state["applied"] += 1
            self.state["last_applied_at"] = now_iso()
            self.state["error"] = None
        self.write_state()

    # ------------------------------------------------------------------ status

    def set_state(self, name: str, error: str | None) -> None:
        if self.state["state"] != name:
            self.state["since"] = now_iso()
        self.state["state"], self.state["error"] = name, error
        self.write_state()

    def write_state(self) -> None:
        self.written_at = time.monotonic()
        status.write(dict(self.state))

    def stop(self) -> None:
        self.should_stop = True

    def run(self, _tokens: int = 1, **kwargs: Any) -> None:
        try:
            super().run(_tokens, **kwargs)
        except OperationalError:  # kombu's retry loop left by on_connection_error when stopping
            if not self.should_stop:
                raise


def listen(url: str, handle: Callable[[Plan], object]) -> None:
    """Run until interrupted (``manage.py listen_notifications``)."""
    listener = NotificationListener(url, handle)
    try:
        listener.run(safety_interval=1)
    finally:
        listener.set_state("stopped", error=None)
