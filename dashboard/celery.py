"""The Celery application: configured from Django settings (CELERY_*)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

app = Celery("dashboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
# The top-level app is named ``tasks``, so its task functions live in
# tasks/tasks.py, which is what autodiscovery looks for.
app.autodiscover_tasks()
# The graph writer's task (its own queue, its own worker: bin/run).
app.autodiscover_tasks(["tasks"], related_name="graph")
