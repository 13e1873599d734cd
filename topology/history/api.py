"""The history's REST API: ``GET /api/v1/topology/history/`` (the graph's revisions, newest first, as the
caller may see them) and ``GET /api/v1/topology/history/<revision>/`` (the map then, or ``?compare=``)."""

from __future__ import annotations

import gzip

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard.auth import Caller
from topology.history.listing import MAX_LIMIT, history_page
from topology.history.past import UnknownRevision, past_compare, past_view
from topology.history.replay import HistoryGap
from topology.scope import VIEWS

DEFAULT_LIMIT = 50


def positive_int(value: str | None, default: int | None) -> int | None:
    if value is None or value == "":
        return default
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


class HistoryView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("before", int, description="only revisions older than this one (paging)"),
            OpenApiParameter(
                "limit", int, default=DEFAULT_LIMIT, description=f"revisions looked at, at most {MAX_LIMIT}"
            ),
        ],
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT},
        summary="The graph's revisions: time, cause, what changed (a member: in their project's view)",
    )
    def get(self, request: Request) -> Response:
        try:
            before = positive_int(request.query_params.get("before"), None)
            limit = positive_int(request.query_params.get("limit"), DEFAULT_LIMIT) or DEFAULT_LIMIT
        except ValueError:
            return Response({"detail": "before and limit must be positive integers"}, status=400)
        caller = request.auth
        assert isinstance(caller, Caller)  # IsProjectScoped guarantees it
        try:
            return Response(history_page(caller.scope, before, limit))
        except HistoryGap as exc:  # rows deleted by hand: a member's page cannot be replayed
            return Response({"detail": f"this part of the history cannot be rebuilt: {exc}"}, status=409)


class PastTopologyView(APIView):
    """The map at a past revision (the live topology response's shape), or what changed since another."""

    @extend_schema(
        parameters=[
            OpenApiParameter("view", str, enum=list(VIEWS), default="full"),
            OpenApiParameter(
                "compare", int, description="another revision: the ids added, removed and changed from it to this one"
            ),
        ],
        responses={code: OpenApiTypes.OBJECT for code in (200, 400, 404, 409)},
        summary="The topology the caller could see at a past revision, or its changes since another revision",
    )
    def get(self, request: Request, revision: int) -> HttpResponse:
        view = request.query_params.get("view", "full")
        if view not in VIEWS:
            return Response({"detail": f"view must be one of {', '.join(VIEWS)}"}, status=400)
        try:
            compare = positive_int(request.query_params.get("compare"), None)
        except ValueError:
            return Response({"detail": "compare must be a positive integer (a revision)"}, status=400)
        caller = request.auth
        assert isinstance(caller, Caller)  # IsProjectScoped guarantees it
        try:
            if compare is None:
                body = past_view(revision, view, caller.scope)
            else:
                body = past_compare(revision, compare, view, caller.scope)
        except UnknownRevision as exc:
            return Response(exc.body(), status=404)
        except HistoryGap as exc:  # rows deleted by hand
            return Response({"detail": f"this revision cannot be rebuilt: {exc}"}, status=409)
        # Kept gzipped, as the live topology body: served as is to a client that takes gzip.
        if "gzip" in request.META.get("HTTP_ACCEPT_ENCODING", ""):
            response = HttpResponse(body, content_type="application/json")
            response["Content-Encoding"] = "gzip"
        else:
            response = HttpResponse(gzip.decompress(body), content_type="application/json")
        response["Vary"] = "Accept-Encoding, Cookie, X-Auth-Token"
        return response
