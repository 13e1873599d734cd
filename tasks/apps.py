from __future__ import annotations

import os

from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "tasks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # How long an unacknowledged job message (its worker died mid-job) waits in Redis
        # before another worker gets it again. kombu's default is one hour; a job is short.
        # TODO(settings owner): move to settings.CELERY_BROKER_TRANSPORT_OPTIONS.
        from dashboard.celery import app

        seconds = int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "300"))
        app.conf.broker_transport_options = {**app.conf.broker_transport_options, "visibility_timeout": seconds}
