"""``POST /api/v1/hosts/<host>/probes/``: run one read-only probe on a host, wait for the answer (bounded).

Admin only this session: a project member gets 403 (the scoped variant, a
tenant verifying its own endpoints with a redacted answer, is not built yet).
Synchronous: the answer comes in the response, within the probe's timeout
plus request.ANSWER_MARGIN_S.

* 200 ``{"host", "kind", "args", "result"}``: the agent ran it (``result.ok``
  false when the command failed; ``result.error`` says why);
* 400 invalid kind or arguments (names not in the host's last report among them);
* 404 no report from that host;
* 503 the host's agent is not connected (answered at once);
* 504 no answer, or the command did not finish, within the timeout.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard.auth import IsCloudAdmin
from topology.agent.probes import DEFAULT_TIMEOUT_S, KINDS, MAX_TIMEOUT_S, ProbeInvalid
from topology.models import HostReport
from topology.probes.request import NotConnected, ProbeTimeout, run_on_host
from topology.probes.validate import validate_for_host

ProbeRequestSerializer = inline_serializer(
    "ProbeRequest",
    {
        "kind": serializers.ChoiceField(choices=list(KINDS)),
        "args": serializers.DictField(),
        "timeout": serializers.FloatField(required=False, min_value=0.5, max_value=MAX_TIMEOUT_S),
    },
)
ProbeErrorSerializer = inline_serializer("ProbeError", {"detail": serializers.CharField()})


def timeout_of(body: dict[str, Any]) -> float:
    value = body.get("timeout", DEFAULT_TIMEOUT_S)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.5 <= value <= MAX_TIMEOUT_S:
        raise ProbeInvalid(f"timeout must be a number of seconds from 0.5 to {MAX_TIMEOUT_S:g}")
    return float(value)


class HostProbeView(APIView):
    permission_classes = [IsCloudAdmin]

    @extend_schema(
        request=ProbeRequestSerializer,
        responses={
            200: OpenApiTypes.OBJECT,
            400: ProbeErrorSerializer,
            403: ProbeErrorSerializer,
            404: ProbeErrorSerializer,
            503: ProbeErrorSerializer,
            504: OpenApiTypes.OBJECT,
        },
        summary="Run a probe (ofproto/trace, ip route get, ip rule, route table, ovn-trace...) on a host (admin)",
    )
    def post(self, request: Request, host: str) -> Response:
        row = HostReport.objects.filter(host=host).only("report").first()
        if row is None:
            return Response({"detail": f"no report from host {host!r}"}, status=404)
        body = request.data if isinstance(request.data, dict) else {}
        try:
            timeout = timeout_of(body)
            args = validate_for_host(body.get("kind"), body.get("args"), row.report)
        except ProbeInvalid as exc:
            return Response({"detail": str(exc)}, status=400)
        kind = str(body["kind"])
        try:
            result = run_on_host(host, kind, args, timeout)
        except NotConnected as exc:
            return Response({"detail": str(exc), "connected": False}, status=503, headers={"Retry-After": "10"})
        except ProbeTimeout as exc:
            return Response({"detail": str(exc), "host": host, "kind": kind, "args": args}, status=504)
        answer = {"host": host, "kind": kind, "args": args, "result": result}
        if result.get("timed_out"):
            return Response({"detail": result.get("error"), **answer}, status=504)
        return Response(answer)
