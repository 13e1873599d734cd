"""The Watches page (/watches/): the caller's watched paths, each with its timeline of verdicts and webhook state."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dashboard.auth import Caller
from dashboard.views import login_required, page_context
from topology.watches.api import watches_of

TIMELINE = 50  # events shown per watch


@login_required
def watches_page(request: HttpRequest, caller: Caller) -> HttpResponse:
    rows = [(w, list(w.events.all()[:TIMELINE])) for w in watches_of(caller)]
    return render(request, "watches.html", page_context(request, caller, watches=rows))
