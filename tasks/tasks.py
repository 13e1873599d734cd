"""Celery tasks (thin: arguments, retries, progress; logic lives elsewhere)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="tasks.ping")
def ping() -> str:
    """Liveness probe for the worker: returns "pong"."""
    return "pong"


@shared_task(name="tasks.refresh_cloud", ignore_result=True)
def refresh_cloud() -> int:
    """Collect the cloud once for every browser; returns the graph revision."""
    from topology.services import graph_state
    from topology.services import refresh_cloud as refresh

    refresh()
    return graph_state().revision
