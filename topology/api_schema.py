"""What the REST API's views share: the schema's serializers and the caller of a request."""

from __future__ import annotations

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers
from rest_framework.request import Request

from dashboard.auth import Caller

NodeSerializer = inline_serializer(
    "Node",
    {
        "id": serializers.CharField(),
        "kind": serializers.CharField(),
        "label": serializers.CharField(),
        "host": serializers.CharField(required=False),
        "project_id": serializers.CharField(required=False),
        "status": serializers.CharField(required=False),
        "attrs": serializers.DictField(),
    },
)
EdgeSerializer = inline_serializer(
    "Edge", {"source": serializers.CharField(), "target": serializers.CharField(), "kind": serializers.CharField()}
)
TopologySerializer = inline_serializer(
    "Topology",
    {
        "revision": serializers.IntegerField(),
        "generated_at": serializers.DateTimeField(),
        "nodes": serializers.ListField(child=NodeSerializer),
        "edges": serializers.ListField(child=EdgeSerializer),
    },
)
ErrorSerializer = inline_serializer("Error", {"detail": serializers.CharField()})
ReportRejectedSerializer = inline_serializer(
    "ReportRejected",
    {"detail": serializers.CharField(), "reasons": serializers.ListField(child=serializers.CharField())},
)


def caller_of(request: Request) -> Caller:
    assert isinstance(request.auth, Caller)  # IsProjectScoped guarantees it
    return request.auth
