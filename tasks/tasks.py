"""Celery tasks (thin: arguments, retries, progress; logic lives elsewhere)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="tasks.ping")
def ping() -> str:
    """Liveness probe for the worker: returns "pong"."""
    return "pong"
