"""Pages of the dashboard."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from keystoneauth1 import exceptions as ksa_exceptions
from openstack import exceptions as sdk_exceptions

from topology.cloud import CloudNotConfigured, service_connection, summarize

log = logging.getLogger(__name__)


def home(request: HttpRequest) -> HttpResponse:
    """The cloud at a glance: its networks and routers, straight from Neutron."""
    context: dict[str, object] = {"cloud": settings.DASHBOARD_CLOUD}
    try:
        context["summary"] = summarize(service_connection(), settings.DASHBOARD_CLOUD)
    except CloudNotConfigured as exc:
        context["error"] = str(exc)
    except (sdk_exceptions.SDKException, ksa_exceptions.ClientException) as exc:
        log.warning("cloud %s unreachable: %s", settings.DASHBOARD_CLOUD, exc)
        context["error"] = f"The cloud {settings.DASHBOARD_CLOUD!r} did not answer: {exc}"
    status = 503 if "error" in context else 200
    return render(request, "home.html", context, status=status)
