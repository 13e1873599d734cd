"""Watch: a path a user pinned, with the verdict it had when last explained."""

from __future__ import annotations

import secrets

from django.db import models


def new_secret() -> str:
    """The per-watch key its webhook POSTs are signed with (HMAC-SHA256)."""
    return secrets.token_hex(32)


class Watch(models.Model):
    """A pinned path: ``src`` -> ``dst`` with ``probe``, as the user's project (``project_id``) may see it.

    ``project_id`` is the scope the path is explained in (None: an admin's, unscoped).
    """

    user_id = models.CharField(max_length=255)
    user_name = models.CharField(max_length=255)
    project_id = models.CharField(max_length=64, null=True, db_index=True)
    src = models.CharField(max_length=255)
    dst = models.CharField(max_length=255)
    probe = models.CharField(max_length=32, default="icmp")
    last_verdict = models.CharField(max_length=16, blank=True, default="")
    last_revision = models.PositiveBigIntegerField(null=True)
    # The node ids of its hops (and ends) when last explained: a revision touching one re-explains it.
    hops: models.JSONField[list[str]] = models.JSONField(default=list)
    webhook_url = models.URLField(max_length=500, blank=True, default="")
    secret = models.CharField(max_length=64, default=new_secret)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "topology"
        ordering = ("-id",)

    def __str__(self) -> str:
        return f"watch {self.pk}: {self.src} -> {self.dst} ({self.probe})"


class WatchEvent(models.Model):
    """A change of a watch's verdict (its timeline), and how its webhook POST went."""

    watch = models.ForeignKey(Watch, on_delete=models.CASCADE, related_name="events")
    revision = models.PositiveBigIntegerField()
    at = models.DateTimeField(auto_now_add=True)
    verdict = models.CharField(max_length=16)
    was = models.CharField(max_length=16, blank=True, default="")
    # "" (no webhook), "pending", "sent", "failed"; attempts made; the last failure's reason
    webhook_state = models.CharField(max_length=16, blank=True, default="")
    webhook_attempts = models.PositiveIntegerField(default=0)
    webhook_error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        app_label = "topology"
        ordering = ("-id",)

    def __str__(self) -> str:
        return f"watch {self.watch_id} {self.was or 'new'} -> {self.verdict} at revision {self.revision}"
