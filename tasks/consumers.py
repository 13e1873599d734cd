"""The websocket of job progress: ``/ws/jobs/``.

Thin: each update published for a user's group is forwarded after the session
is re-read (logged out, expired or another user: closed) and only if the job
is the caller's own. The page may ask for one job's current state with
``{"type": "job.watch", "job": id}``; another user's job answers as Neutron
does for a hidden object: not found.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from dashboard.auth import Caller
from tasks.jobs import group_for, job_dict
from tasks.models import Job
from topology.consumers import CLOSE_UNAUTHENTICATED, UserGroupConsumer


def own_job(caller: Caller, job_id: int) -> dict[str, Any] | None:
    query = Job.objects.filter(pk=job_id)
    if not caller.is_admin:
        query = query.filter(user_id=caller.user_id)
    job = query.first()
    return dict(job_dict(job)) if job else None


class JobsConsumer(UserGroupConsumer):
    def group_of(self, user_id: str) -> str:
        return group_for(user_id)

    async def checked_caller(self) -> Caller | None:
        caller = await self.caller()
        if caller is None or caller.user_id != self.user_id:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return None
        return caller

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        caller = await self.checked_caller()
        if caller is None:
            return
        wanted = content.get("job") if isinstance(content, dict) and content.get("type") == "job.watch" else None
        if not isinstance(wanted, int) or isinstance(wanted, bool):
            await self.send_json(
                {
                    "type": "job.error",
                    "status": 400,
                    "detail": 'this socket only answers {"type": "job.watch", "job": <id>}; '
                    "actions go through the REST API",
                }
            )
            return
        job = await database_sync_to_async(own_job)(caller, wanted)
        if job is None:
            await self.send_json(
                {"type": "job.error", "status": 404, "job": wanted, "detail": f"Job {wanted} could not be found."}
            )
            return
        await self.send_json({"type": "job.update", "job": job})

    async def job_update(self, event: dict[str, Any]) -> None:
        caller = await self.checked_caller()
        if caller is None or event.get("user_id") != caller.user_id:
            return
        await self.send_json({"type": "job.update", "job": event["job"]})
