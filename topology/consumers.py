"""The websocket of the live map: ``/ws/topology/``.

Thin on purpose. The delta published by ``services.rebuild_graph`` is the
whole cloud's; before forwarding anything this consumer re-reads the caller
from the session store on every event (the session may have expired, logged
out or switched project since the socket opened) and:

- an admin gets the delta as published;
- a project member gets the difference between what they were sent last and
  what they may see now (``scope_graph`` of the current graph), so nodes that
  become visible or invisible through a new binding arrive as added/removed,
  and nothing of another project ever reaches them.

Every delta carries ``base``: the revision it applies to. The page applies a
delta whose base is its own revision and resyncs from the REST API otherwise;
after a REST load it sends ``{"type": "topology.sync", "revision": n}``.

A reset (the graph written whole, no delta: ``services.publish_reset``) is passed on as
``{"type": "topology.resync", "reason": "reset", "revision": n}``: the page loads the graph again.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.contrib.sessions.backends.base import SessionBase
from django.utils.module_loading import import_string

from dashboard.auth import SESSION_KEY, Caller
from topology import graph as g
from topology.models import GraphState
from topology.scope import GraphDict, scope_graph
from topology.services import TOPOLOGY_GROUP

CLOSE_UNAUTHENTICATED = 4401
_SCOPED_CACHE: dict[tuple[int, str], GraphDict] = {}
_GRAPH_CACHE: dict[int, GraphDict] = {}


def caller_of_session(session_key: str | None) -> Caller | None:
    """The caller as the session store holds it now (None: logged out, expired or never logged in)."""
    if not session_key:
        return None
    from django.conf import settings

    store: SessionBase = import_string(f"{settings.SESSION_ENGINE}.SessionStore")(session_key)
    data = store.load()
    if not data.get("_auth_user_id") or not data.get(SESSION_KEY):
        return None
    caller = Caller.from_dict(data[SESSION_KEY])
    return None if caller.expired() else caller


def current_graph() -> tuple[int, GraphDict]:
    """The current revision and graph; the graph is read once per revision per process."""
    revision = GraphState.objects.the_row().values_list("revision", flat=True).first() or 0
    if revision not in _GRAPH_CACHE:
        state = GraphState.objects.the_row().first()
        revision = state.revision if state else 0
        _GRAPH_CACHE.clear()
        _GRAPH_CACHE[revision] = (state.graph if state else None) or {"nodes": [], "edges": []}
    return revision, _GRAPH_CACHE[revision]


def scoped_graph(project_id: str) -> tuple[int, GraphDict]:
    """What a project member may see now; computed once per revision and project per process."""
    revision, graph = current_graph()
    key = (revision, project_id)
    if key not in _SCOPED_CACHE:
        for old in [k for k in _SCOPED_CACHE if k[0] != revision]:
            del _SCOPED_CACHE[old]
        _SCOPED_CACHE[key] = scope_graph(graph, "full", project_id)
    return revision, _SCOPED_CACHE[key]


def delta_message(revision: int, base: int, delta: g.Delta) -> dict[str, Any]:
    return {"type": "topology.delta", "revision": revision, "base": base, **delta}


class SessionCallerConsumer(AsyncJsonWebsocketConsumer):
    """A websocket whose caller is re-read from the session store whenever it is asked for."""

    async def caller(self) -> Caller | None:
        session = self.scope.get("session")
        key = session.session_key if session is not None else None
        return await database_sync_to_async(caller_of_session)(key)


class UserGroupConsumer(SessionCallerConsumer):
    """A logged-in user's socket in that user's own group (``group_of``): jobs, watches."""

    def group_of(self, user_id: str) -> str:
        raise NotImplementedError

    async def connect(self) -> None:
        caller = await self.caller()
        if caller is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user_id = caller.user_id
        self.group = self.group_of(caller.user_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)


class TopologyConsumer(SessionCallerConsumer):
    """Forwards topology deltas, filtered for the caller, re-checked on every event."""

    async def connect(self) -> None:
        caller = await self.caller()
        if caller is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.scope_key: str | None = caller.scope
        self.revision = 0
        self.known: GraphDict | None = None  # what a project member has been sent (None: not synced yet)
        await self.channel_layer.group_add(TOPOLOGY_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(TOPOLOGY_GROUP, self.channel_name)

    async def checked_caller(self) -> Caller | None:
        """The caller now, or None after closing the socket; a changed scope asks the page to resync."""
        caller = await self.caller()
        if caller is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return None
        if caller.scope != self.scope_key:
            self.scope_key, self.known = caller.scope, None
            await self.send_json({"type": "topology.resync", "reason": "project changed"})
            return None
        return caller

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict) or content.get("type") != "topology.sync":
            return
        caller = await self.checked_caller()
        if caller is None or not isinstance(content.get("revision"), int):
            return
        self.revision = content["revision"]
        if caller.scope is None:
            return
        revision, scoped = await database_sync_to_async(scoped_graph)(caller.scope)
        if revision != self.revision:  # the graph moved on between the page's REST read and now
            self.known = None
            await self.send_json({"type": "topology.resync", "reason": "revision moved"})
            return
        self.known = scoped

    async def topology_delta(self, event: dict[str, Any]) -> None:
        caller = await self.checked_caller()
        if caller is None:
            return
        if caller.scope is None:
            delta: g.Delta = {"added": event["added"], "removed": event["removed"], "changed": event["changed"]}
            await self.send_json(delta_message(event["revision"], event["revision"] - 1, delta))
            self.revision = event["revision"]
            return
        if self.known is None:
            return  # not synced yet: the page is loading from the REST API
        revision, scoped = await database_sync_to_async(scoped_graph)(caller.scope)
        if revision <= self.revision:
            return
        delta = g.diff(self.known, scoped)
        if g.is_empty(delta):
            return  # nothing this caller may see changed: say nothing, the next delta still chains
        base, self.revision, self.known = self.revision, revision, scoped
        await self.send_json(delta_message(revision, base, delta))

    async def topology_reset(self, event: dict[str, Any]) -> None:
        """The graph was written whole (no delta): the page loads it again from the REST API."""
        caller = await self.checked_caller()
        if caller is None:
            return
        self.known = None  # a member's view is diffed again from the page's next sync
        await self.send_json({"type": "topology.resync", "reason": "reset", "revision": event["revision"]})
