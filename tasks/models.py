"""Jobs (actions queued for Celery), the credential a job acts with, and the audit log.

The UI and the API speak of ``Job`` ids only, never of Celery's own task state.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from django.db import models


class JobState:
    QUEUED: Final = "queued"
    RUNNING: Final = "running"
    SUCCEEDED: Final = "succeeded"  # the effect was observed (tasks/confirm.py), not only Neutron's answer
    FAILED: Final = "failed"
    # Neutron shows the change but the data plane did not catch up within the bound: not a success.
    UNCONFIRMED: Final = "unconfirmed"

    ALL: Final = (QUEUED, RUNNING, SUCCEEDED, FAILED, UNCONFIRMED)
    CHOICES: Final = [(s, s) for s in ALL]
    FINISHED: Final = frozenset({SUCCEEDED, FAILED, UNCONFIRMED})


class JobKind:
    """Actions, named after Neutron's own operations."""

    FIP_ALLOCATE: Final = "floatingip.allocate"
    FIP_ASSOCIATE: Final = "floatingip.associate"
    FIP_DISASSOCIATE: Final = "floatingip.disassociate"
    FIP_RELEASE: Final = "floatingip.release"
    GATEWAY_SET: Final = "router.gateway.set"
    GATEWAY_CLEAR: Final = "router.gateway.clear"
    INTERFACE_ADD: Final = "router.interface.add"
    INTERFACE_REMOVE: Final = "router.interface.remove"
    SECGROUP_OPEN: Final = "security_group.open_icmp_ssh"
    SECGROUP_CLOSE: Final = "security_group.close_icmp_ssh"
    SECGROUP_RULE_DELETE: Final = "security_group_rule.delete"
    # Admin only: remove a network:router_gateway port Neutron left on a router (issue 23).
    GATEWAY_REPAIR: Final = "router.gateway.repair"

    ALL: Final = (
        FIP_ALLOCATE,
        FIP_ASSOCIATE,
        FIP_DISASSOCIATE,
        FIP_RELEASE,
        GATEWAY_SET,
        GATEWAY_CLEAR,
        INTERFACE_ADD,
        INTERFACE_REMOVE,
        SECGROUP_OPEN,
        SECGROUP_CLOSE,
        SECGROUP_RULE_DELETE,
        GATEWAY_REPAIR,
    )
    CHOICES: Final = [(k, k) for k in ALL]


class Job(models.Model):
    # Unique across dashboards sharing a cloud: marks what the job creates, so a re-run finds it.
    uuid = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    kind = models.CharField(max_length=40, choices=JobKind.CHOICES)
    # The actor, as Keystone knows them (the shadow Django user is only a session helper).
    user_id = models.CharField(max_length=64, db_index=True)
    user_name = models.CharField(max_length=255)
    project_id = models.CharField(max_length=64, db_index=True)
    target = models.CharField(max_length=64, help_text="id of the Neutron object acted on")
    params: models.JSONField[dict[str, Any]] = models.JSONField(default=dict)
    state = models.CharField(max_length=12, choices=JobState.CHOICES, default=JobState.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    message = models.TextField(blank=True, default="")
    result: models.JSONField[dict[str, Any] | None] = models.JSONField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # Set while the job is queued or running: two identical requests at once make one job.
    # Unique, and NULL once finished (NULLs never collide).
    lock = models.CharField(max_length=200, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"job {self.pk} {self.kind} {self.target} {self.state}"

    @property
    def finished(self) -> bool:
        return self.state in JobState.FINISHED


class JobCredential(models.Model):
    """The actor's Keystone token (and catalog) for one job, encrypted, deleted when the job ends.

    Celery's message carries the job id only; the token never goes through the broker.
    """

    job = models.OneToOneField(Job, on_delete=models.CASCADE, primary_key=True, related_name="credential")
    sealed = models.BinaryField()
    expires_at = models.DateTimeField()


class AuditResult:
    ACCEPTED: Final = "accepted"
    REFUSED: Final = "refused"
    SUCCEEDED: Final = "succeeded"
    FAILED: Final = "failed"
    UNCONFIRMED: Final = "unconfirmed"

    CHOICES: Final = [(r, r) for r in (ACCEPTED, REFUSED, SUCCEEDED, FAILED, UNCONFIRMED)]


class AuditEntry(models.Model):
    """Who did what, when, and how it ended; one row per request and one per finished job."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user_id = models.CharField(max_length=64, db_index=True)
    user_name = models.CharField(max_length=255)
    project_id = models.CharField(max_length=64, blank=True, default="", db_index=True)
    action = models.CharField(max_length=40)
    target = models.CharField(max_length=64, blank=True, default="")
    result = models.CharField(max_length=12, choices=AuditResult.CHOICES)
    message = models.TextField(blank=True, default="")
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit")

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.user_name} {self.action} {self.target} {self.result}"
