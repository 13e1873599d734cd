"""The map page: the live D3 map of the joined graph (static/js/map/ draws it)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from dashboard.auth import Caller
from dashboard.views import login_required, page_context
from topology.vocabulary import map_vocabulary

# Above this many drawn elements (nodes + edges) the map draws on a canvas instead of SVG.
CANVAS_THRESHOLD = 3000
# Above this many physical nodes the hosts start collapsed (one box per host).
COLLAPSE_HOSTS_ABOVE = 600


def map_config(caller: Caller) -> dict[str, Any]:
    """What the map's modules need to start (rendered with json_script: no user string reaches HTML unescaped)."""
    return {
        "api": reverse("api-topology"),
        "ws": "/ws/topology/",
        "view": "physical" if caller.is_admin else "logical",
        "scopeKey": f"{caller.user_id}:{caller.project_id}",
        "canvasThreshold": CANVAS_THRESHOLD,
        "collapseHostsAbove": COLLAPSE_HOSTS_ABOVE,
        # above these the physical view is loaded collapsed (static/js/map/collapsed.js)
        "collapseAboveHosts": settings.MAP_COLLAPSE_ABOVE_HOSTS,
        "collapseAboveNodes": settings.MAP_COLLAPSE_ABOVE_NODES,
        "vocabulary": map_vocabulary(),
        "securityGroupsPage": reverse("security-groups"),  # the fix of a security-group problem
        "activeApi": reverse("api-path-active") if caller.is_admin else None,  # one real ping: admins only
    }


@login_required
def topology_map(request: HttpRequest, caller: Caller) -> HttpResponse:
    return render(request, "map.html", page_context(request, caller, map_config=map_config(caller)))
