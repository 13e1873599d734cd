"""``/ws/watches/``: a logged-in page's verdict changes of the user's watched paths (the toast on any page).

The socket joins the user's group (topology.watches.check.user_group); each ``watch.verdict``
is forwarded only while the session still holds that user, and only for a watch of the scope the
caller is in now (an admin's unscoped watches to an admin).
"""

from __future__ import annotations

from typing import Any

from topology.consumers import CLOSE_UNAUTHENTICATED, UserGroupConsumer
from topology.watches.check import user_group

FORWARDED = ("watch", "src", "dst", "probe", "verdict", "was", "revision", "at")


class WatchConsumer(UserGroupConsumer):
    def group_of(self, user_id: str) -> str:
        return user_group(user_id)

    async def watch_verdict(self, event: dict[str, Any]) -> None:
        caller = await self.caller()
        if caller is None or caller.user_id != self.user_id:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if event.get("project_id") != caller.scope:
            return  # a watch of the project the user is not in now
        await self.send_json({"type": "watch.verdict", **{k: event.get(k) for k in FORWARDED}})
