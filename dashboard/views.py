"""Pages of the dashboard: login, project switch, overview."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from functools import wraps
from typing import Any

from django.contrib.auth import login as django_login
from django.contrib.auth import logout as django_logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST
from keystoneauth1 import exceptions as ksa_exceptions
from openstack import exceptions as sdk_exceptions

from dashboard import sessiontokens, throttle
from dashboard.auth import SESSION_KEY, Caller, forget_token, session_caller, shadow_user
from dashboard.keystone import LoginFailed, Project, password_login, rescope, revoke_token, user_connection
from dashboard.overview import project_resources
from dashboard.sealing import SealBroken
from dashboard.sessiontokens import KeystoneSecrets
from topology.cloud import summarize

log = logging.getLogger(__name__)
View = Callable[..., HttpResponse]


def login_required(view: View) -> View:
    """Pages need a Keystone login; the caller is passed to the view."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        caller = session_caller(request)
        if caller is None:
            return redirect(f"{reverse('login')}?next={request.get_full_path()}")
        return view(request, caller, *args, **kwargs)

    return wrapper


def page_context(request: HttpRequest, caller: Caller, **extra: Any) -> dict[str, Any]:
    return {"caller": caller, "projects": request.session.get("keystone_projects", []), **extra}


@login_required
def home(request: HttpRequest, caller: Caller) -> HttpResponse:
    """The cloud at a glance as Neutron shows it to this user: networks, routers, VMs, ports, floating IPs."""
    context = page_context(request, caller)
    try:
        conn = user_connection(caller, sessiontokens.token_body(request.session) or {})
        context["summary"] = summarize(conn, caller.project_name or "")
        context["resources"] = project_resources(conn)
    except (sdk_exceptions.SDKException, ksa_exceptions.ClientException) as exc:
        log.warning("cloud unreachable for %s: %s", caller.user_name, exc)
        context["error"] = f"The cloud did not answer: {exc}"
    return render(request, "home.html", context, status=503 if "error" in context else 200)


def start_session(request: HttpRequest, unscoped: str, projects: list[Project], project_id: str) -> None:
    caller, body = rescope(unscoped, project_id)
    django_login(request, shadow_user(caller), backend="django.contrib.auth.backends.ModelBackend")
    # Who the caller is, in clear (the map's websocket reads it); the tokens only sealed.
    request.session[SESSION_KEY] = replace(caller, token="").to_dict()
    sessiontokens.keep(request.session, KeystoneSecrets(token=caller.token, unscoped=unscoped, body=body))
    request.session["keystone_projects"] = [{"id": p.id, "name": p.name} for p in projects]


@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next") or reverse("home")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("home")
    context: dict[str, Any] = {"next": next_url, "domain": "Default", "username": ""}
    if request.method == "POST":
        username = request.POST.get("username", "").strip()
        domain = request.POST.get("domain", "").strip() or "Default"
        context.update(username=username, domain=domain)
        creds = throttle.credentials(username, domain)
        wait = throttle.locked_for(request, creds)
        if wait is not None:
            return locked_out(request, context, wait)
        try:
            unscoped, projects = password_login(username, request.POST.get("password", ""), domain)
            wanted = request.POST.get("project", "").strip()
            chosen = next((p for p in projects if wanted in (p.id, p.name)), projects[0])
            start_session(request, unscoped, projects, chosen.id)
        except LoginFailed as exc:
            # Only refused credentials count: Keystone being down (503) is nobody's failed attempt.
            wait = throttle.failed(request, creds) if exc.status == 401 else None
            if wait is not None:
                return locked_out(request, context, wait)
            context["error"] = str(exc)
            return render(request, "login.html", context, status=exc.status)
        throttle.succeeded(request, creds)
        return HttpResponseRedirect(next_url)
    return render(request, "login.html", context)


def locked_out(request: HttpRequest, context: dict[str, Any], wait: timedelta) -> HttpResponse:
    context["error"] = throttle.retry_message(wait)
    response = render(request, "login.html", context, status=429)
    response["Retry-After"] = str(math.ceil(wait.total_seconds()))
    return response


@require_POST
@login_required
def switch_project(request: HttpRequest, caller: Caller) -> HttpResponse:
    projects = [Project(**p) for p in request.session.get("keystone_projects", [])]
    wanted = request.POST.get("project_id", "")
    if wanted not in {p.id for p in projects}:
        return HttpResponse("Unknown project.", status=404)
    secrets = sessiontokens.kept(request.session)
    if secrets is None:
        django_logout(request)
        return redirect("login")
    try:
        start_session(request, secrets.unscoped, projects, wanted)
    except LoginFailed:
        django_logout(request)
        return redirect("login")
    return redirect(request.POST.get("next") or "home")


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """Ends the session and has Keystone revoke its tokens: a copy of them is worth nothing after."""
    try:
        secrets = sessiontokens.kept(request.session)
    except SealBroken:
        secrets = None
    django_logout(request)
    for token in (secrets.token, secrets.unscoped) if secrets else ():
        revoke_token(token)
        forget_token(token)
    return redirect("login")
