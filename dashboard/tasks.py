"""The dashboard's own Celery tasks (autodiscovered: dashboard is an installed app)."""

from __future__ import annotations

from importlib import import_module

from celery import shared_task
from django.conf import settings


@shared_task(name="dashboard.clear_sessions", ignore_result=True)
def clear_sessions() -> None:
    """Delete expired sessions, as ``manage.py clearsessions`` does (the session engine's clear_expired).

    An expired session is no use to anyone, but its row would stay in the database (and in its
    backups) for good, sealed tokens and all.
    """
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
