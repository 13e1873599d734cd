"""REST API v1 of the map at scale (docs/design.md "REST API v1"): the collapsed physical view's
host content and the search (the collapsed view itself is ``GET /api/v1/topology/?view=physical&collapsed=1``,
answered by :func:`collapsed_response` for TopologyView)."""

from __future__ import annotations

import gzip

import orjson
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard.auth import Caller
from topology import hostviews
from topology.kinds import NodeKind
from topology.search import DEFAULT_RESULTS, MAX_RESULTS

HOST_VIEWS = {"physical": frozenset(NodeKind.PHYSICAL), "full": frozenset(NodeKind.PHYSICAL | NodeKind.LOGICAL)}
NOT_FOUND = "no such host"  # the same for a host that does not exist and one the caller may not see


def scope_of(request: Request) -> str | None:
    assert isinstance(request.auth, Caller)  # IsProjectScoped guarantees it
    return request.auth.scope


def json_response(request: Request, body_gzip: bytes) -> HttpResponse:
    if "gzip" in request.META.get("HTTP_ACCEPT_ENCODING", ""):
        response = HttpResponse(body_gzip, content_type="application/json")
        response["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(gzip.decompress(body_gzip), content_type="application/json")
    response["Vary"] = "Accept-Encoding, Cookie, X-Auth-Token"
    return response


def collapsed_response(request: Request) -> HttpResponse:
    """The collapsed physical view (hosts with counts and state, tunnels between hosts), per revision and scope."""
    return json_response(request, hostviews.collapsed_view(scope_of(request)))


class HostContentView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("view", str, enum=list(HOST_VIEWS), default="physical")],
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT},
        summary="One host's content, as the map shows it when the host is expanded",
    )
    def get(self, request: Request, host: str) -> HttpResponse:
        view = request.query_params.get("view", "physical")
        if view not in HOST_VIEWS:
            return Response({"detail": f"view must be one of {', '.join(HOST_VIEWS)}"}, status=400)
        content = hostviews.host_content(host, HOST_VIEWS[view], scope_of(request))
        if content is None:
            return Response({"detail": NOT_FOUND}, status=404)
        return json_response(request, gzip.compress(orjson.dumps(content), compresslevel=1))


class SearchView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, required=True, description="a name, an id or its prefix, an IP, a MAC"),
            OpenApiParameter("limit", int, default=DEFAULT_RESULTS, description=f"at most {MAX_RESULTS}"),
        ],
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT},
        summary="Search the graph the caller may see",
    )
    def get(self, request: Request) -> Response:
        query = request.query_params.get("q", "").strip()
        if not query or len(query) > 200:
            return Response({"detail": "q must be 1 to 200 characters"}, status=400)
        try:
            limit = int(request.query_params.get("limit", DEFAULT_RESULTS))
        except ValueError:
            return Response({"detail": "limit must be a whole number"}, status=400)
        if not 1 <= limit <= MAX_RESULTS:
            return Response({"detail": f"limit must be between 1 and {MAX_RESULTS}"}, status=400)
        return Response(hostviews.find(query, limit, scope_of(request)))
