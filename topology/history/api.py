"""``GET /api/v1/topology/history/``: the graph's revisions, newest first, as the caller may see them."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard.auth import Caller
from topology.history.listing import MAX_LIMIT, history_page
from topology.history.replay import HistoryGap

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
