"""The topology app's Celery tasks, where autodiscovery looks for them (the watches': topology/watches/tasks.py)."""

from topology.watches.tasks import check_watches, deliver_webhook

__all__ = ["check_watches", "deliver_webhook"]
