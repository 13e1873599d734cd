"""``GET /api/v1/path/?...&verify=1``: the explainer's answer with the nodes' tracers beside it.

Admin only by default. With ``DASHBOARD_PATH_VERIFY_FOR_PROJECTS`` on (a
setting, or the environment variable of that name), a project member may
verify a path whose endpoints are its own: they are resolved in what it may
see (as topology.path_scope does for the explainer), so another project's
port is "not found" and another project's address is "outside"; the walk
and the probes run in the whole graph, and the answer is redacted and
scrubbed like the explainer's: a hop the member may not see keeps only its
verify state, never the tracer's words.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings

from dashboard.auth import Caller
from topology.models import HostReport
from topology.path import PathError, Probe, Topo, as_source, explain_endpoints, explain_in, redact_path, resolve
from topology.path_scope import Secrets
from topology.probes.verify import Asker, verify_result

JsonDict = dict[str, Any]
SETTING = "DASHBOARD_PATH_VERIFY_FOR_PROJECTS"
TRUE = ("1", "true", "yes", "on")
ProjectView = Callable[[], tuple[Mapping[str, list[Any]], Secrets]]


def asked(params: Mapping[str, Any]) -> bool:
    return str(params.get("verify", "")).strip().lower() in TRUE


def projects_may_verify() -> bool:
    value = getattr(settings, SETTING, None)
    if value is None:
        return os.environ.get(SETTING, "").strip().lower() in TRUE
    return bool(value)


def last_report(host: str) -> Mapping[str, Any] | None:
    row = HostReport.objects.filter(host=host).only("report").first()
    return row.report if row is not None else None


def new_asker() -> Asker:
    return Asker(reports=last_report)


def verified(
    caller: Caller, topo: Topo, src: str, dst: str, probe: str, project_view: ProjectView
) -> tuple[int, JsonDict]:
    """(HTTP status, body without the revision) of a verify request."""
    if caller.scope is not None and not projects_may_verify():
        return 403, {"detail": "verifying a path with the nodes' tracers needs the admin role on this dashboard"}
    try:
        parsed = Probe.parse(probe)
    except PathError as exc:
        return 400, {"detail": str(exc)}
    if caller.scope is None:
        try:
            result = explain_in(topo, src, dst, probe)
        except PathError as exc:
            return 400, {"detail": str(exc)}
        return 200, verify_result(new_asker(), topo, result, parsed)
    visible, secrets = project_view()
    try:
        own = Topo(visible, {})
        source = as_source(own, resolve(own, src))
        target = resolve(own, dst, near=source)
        result = explain_endpoints(topo, source, target, parsed)
    except PathError as exc:
        return 404, {"detail": secrets.scrub(str(exc))}
    checked = verify_result(new_asker(), topo, result, parsed)
    return 200, redact_verified(checked, visible, secrets)


def redact_verified(result: JsonDict, visible: Mapping[str, list[Any]], secrets: Secrets) -> JsonDict:
    """The explainer's redaction, and a hop it hides keeps only its verify state."""
    ids = {n["id"] for n in visible.get("nodes", [])}
    redacted = redact_path(result, ids)
    for key in ("hops", "return_hops"):
        for before, after in zip(result.get(key, []), redacted.get(key, []), strict=True):
            if before["node"] and before["node"] not in ids:
                check = before.get("verify", {})
                after["verify"] = {"state": check.get("state"), "tracer": check.get("tracer")}
    redacted["verify"] = {k: v for k, v in result["verify"].items() if k != "hosts"}
    scrubbed: JsonDict = secrets.scrub_all(redacted)
    return scrubbed
