"""Pages of the actions: Floating IPs, Routers, Security groups, Jobs (with the audit log).

Each page is a shell; its script (static/js/<page>.js) reads the REST API and
follows ``/ws/jobs/``. Only the actions the caller's role can perform are
offered (``abilities``); the API refuses the others anyway.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie

from dashboard.auth import Caller
from dashboard.views import login_required, page_context
from topology.join.segment_ranges import SNAPSHOT_KEY, full_range_messages, tenant_form
from topology.models import CloudSnapshot

# Keystone roles that may write in a project under Neutron's default policy (reader may not).
WRITER_ROLES = frozenset({"member", "admin"})


def can_act(caller: Caller) -> bool:
    return caller.project_id is not None and bool(WRITER_ROLES & set(caller.roles))


def abilities(caller: Caller) -> dict[str, bool]:
    """What the page offers: Neutron's default policy for the caller's role."""
    writer = can_act(caller)
    return {
        "allocate": writer,
        "associate": writer,
        "disassociate": writer,
        "release": writer,
        "gateway": writer,
        "enable_snat": writer and caller.is_admin,  # members may give network_id only
        "interfaces": writer,
        "rules": writer,  # open ICMP/SSH, remove a rule
        "all_projects": caller.is_admin,
    }


def page_config(caller: Caller) -> dict[str, Any]:
    """What the page scripts need (rendered with json_script: no user string reaches HTML unescaped)."""
    return {
        "api": {
            "floatingIps": reverse("api-floating-ips"),
            "routers": reverse("api-routers"),
            "securityGroups": reverse("api-security-groups"),
            "jobs": reverse("api-jobs"),
            "audit": reverse("api-audit"),
            "path": reverse("api-path"),
        },
        "ws": "/ws/jobs/",
        "can": abilities(caller),
        "projectId": caller.project_id,
    }


def page(template: str, request: HttpRequest, caller: Caller, **extra: Any) -> HttpResponse:
    return render(request, template, page_context(request, caller, page_config=page_config(caller), **extra))


def vlan_range_warnings(caller: Caller) -> list[str]:
    """The physical networks with no VLAN id free, as the last cloud refresh read Neutron's ranges (issue 15):
    an admin's words name the ranges, a member's only the physical network (no project's data either way)."""
    ranges = CloudSnapshot.objects.order_by("-id").values_list(f"data__{SNAPSHOT_KEY}", flat=True).first()
    messages = full_range_messages({SNAPSHOT_KEY: ranges or []})
    return messages if caller.is_admin else [tenant_form(m) for m in messages]


@login_required
@ensure_csrf_cookie
def floating_ips(request: HttpRequest, caller: Caller) -> HttpResponse:
    return page("fips.html", request, caller)


@login_required
@ensure_csrf_cookie
def routers(request: HttpRequest, caller: Caller) -> HttpResponse:
    return page("routers.html", request, caller, vlan_range_warnings=vlan_range_warnings(caller))


@login_required
@ensure_csrf_cookie
def security_groups(request: HttpRequest, caller: Caller) -> HttpResponse:
    return page("secgroups.html", request, caller)


@login_required
def jobs(request: HttpRequest, caller: Caller) -> HttpResponse:
    return page("jobs.html", request, caller)
