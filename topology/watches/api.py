"""``/api/v1/watches/``: a user's watched paths, created, listed, changed and deleted in the caller's scope.

A member may watch only a path whose endpoints it may see (resolved as GET /api/v1/path/
resolves them for it: 404 with the same scrubbed message otherwise), and sees, changes or
deletes only its own watches in its current project: another's is a 404 that says nothing
of it. An admin (unscoped) may watch any path and sees every watch. A watch's webhook secret is
in the answer that created it only (its owner's): afterwards it reads "set", to the owner and to
admins alike.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard.auth import Caller
from topology.path import PathError
from topology.watches.models import Watch

FIELDS = ("src", "dst", "probe", "webhook_url")
NOT_FOUND = {"detail": "no such watch"}


def caller(request: Request) -> Caller:
    assert isinstance(request.auth, Caller)  # IsProjectScoped (the default permission) guarantees it
    return request.auth


def scope_of(who: Caller) -> str | None:
    """The project a member's paths are explained in; None for an admin (the whole graph)."""
    return who.scope


def watches_of(who: Caller) -> QuerySet[Watch]:
    scope = scope_of(who)
    if scope is None:
        return Watch.objects.all()
    return Watch.objects.filter(project_id=scope, user_id=who.user_id)


def explained(scope: str | None, src: str, dst: str, probe: str) -> tuple[int, dict[str, Any]]:
    """(revision, the explainer's answer) in ``scope``; PathError when the caller may not name an end."""
    from topology.api import StoredReports, project_view
    from topology.path import explain_in
    from topology.path_graph import current_indexed
    from topology.path_scope import explain_for_project

    indexed = current_indexed()
    key = indexed.key
    reports_topo = indexed.topo.with_reports(StoredReports())
    if scope is None:
        return key[0], explain_in(reports_topo, src, dst, probe)
    visible, secrets = project_view(indexed, scope)
    return key[0], explain_for_project(reports_topo, visible, secrets, src, dst, probe)


SECRET_SET = "set"  # what a watch's secret reads as after its creation, to its owner and to admins


def as_json(watch: Watch, created: bool = False) -> dict[str, Any]:
    """A watch as the API shows it: its webhook secret only in the answer that created it (its owner's)."""
    return {
        "id": watch.pk,
        "user": watch.user_name,
        "project_id": watch.project_id,
        "src": watch.src,
        "dst": watch.dst,
        "probe": watch.probe,
        "last_verdict": watch.last_verdict or None,
        "last_revision": watch.last_revision,
        "webhook_url": watch.webhook_url,
        "secret": watch.secret if created else SECRET_SET,
        "created_at": watch.created_at.isoformat(),
    }


def invalid(values: dict[str, str]) -> str | None:
    """Why the fields cannot be stored (None: they can)."""
    if not values.get("src") or not values.get("dst"):
        return "src and dst are required (a node id or an IP address)"
    if len(values["src"]) > 255 or len(values["dst"]) > 255 or len(values.get("probe", "")) > 32:
        return "src, dst or probe is too long"
    url = values.get("webhook_url", "")
    if url:
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            return "webhook_url must be an http or https URL"
        from topology.watches.webhook import refusal

        return refusal(url)  # loopback, private...: refused unless allowed (DASHBOARD_WATCH_WEBHOOK_ALLOW)
    return None


def saved(watch: Watch, values: dict[str, str], scope: str | None) -> Response | None:
    """``watch`` with ``values`` explained and stored; a 400/404 Response when it cannot be."""
    from topology.path import check_arguments

    reason = invalid(values)
    if reason:
        return Response({"detail": reason}, status=400)
    probe = values.get("probe") or "icmp"
    try:
        check_arguments(values["src"], values["dst"], probe)  # the same 400 for every caller, as the path API's
    except PathError as exc:
        return Response({"detail": str(exc)}, status=400)
    try:
        revision, result = explained(scope, values["src"], values["dst"], values.get("probe") or "icmp")
    except PathError as exc:
        return Response({"detail": str(exc)}, status=404 if scope is not None else 400)
    watch.src, watch.dst = values["src"], values["dst"]
    watch.probe = values.get("probe") or "icmp"
    watch.webhook_url = values.get("webhook_url", "")
    from topology.watches.check import hops_of

    watch.last_verdict, watch.last_revision, watch.hops = str(result["verdict"]), revision, hops_of(result)
    watch.save()
    return None


def fields(request: Request, base: dict[str, str]) -> dict[str, str]:
    data = request.data if isinstance(request.data, dict) else {}
    return {**base, **{k: str(data[k]).strip() for k in FIELDS if k in data}}


class WatchListView(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="The caller's watched paths")
    def get(self, request: Request) -> Response:
        return Response({"watches": [as_json(w) for w in watches_of(caller(request))]})

    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: OpenApiTypes.OBJECT}, summary="Watch a path")
    def post(self, request: Request) -> Response:
        who = caller(request)
        scope = scope_of(who)
        watch = Watch(user_id=who.user_id, user_name=who.user_name, project_id=scope)
        refused = saved(watch, fields(request, {"probe": "icmp", "webhook_url": ""}), scope)
        return refused or Response(as_json(watch, created=True), status=201)


class WatchDetailView(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT}, summary="One watched path")
    def get(self, request: Request, pk: int) -> Response:
        watch = watches_of(caller(request)).filter(pk=pk).first()
        return Response(as_json(watch)) if watch else Response(NOT_FOUND, status=404)

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT}, summary="Change a watch")
    def patch(self, request: Request, pk: int) -> Response:
        who = caller(request)
        watch = watches_of(who).filter(pk=pk).first()
        if watch is None:
            return Response(NOT_FOUND, status=404)
        base = {"src": watch.src, "dst": watch.dst, "probe": watch.probe, "webhook_url": watch.webhook_url}
        refused = saved(watch, fields(request, base), watch.project_id)
        return refused or Response(as_json(watch))

    @extend_schema(responses={204: None, 404: OpenApiTypes.OBJECT}, summary="Stop watching a path")
    def delete(self, request: Request, pk: int) -> Response:
        deleted, _ = watches_of(caller(request)).filter(pk=pk).delete()
        return Response(status=204) if deleted else Response(NOT_FOUND, status=404)
