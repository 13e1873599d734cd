"""Login throttling with django-axes: failures counted per user name *and* client address.

Keyed by both, a password spray from one address is stopped after a few tries,
while nobody can lock a user out from every address (Keystone's own lockout, where
configured, would lock the account itself). The view asks before it asks Keystone,
so during a lock even the right password is refused without reaching Keystone.
Axes' middleware is not used: the login view renders the refusal itself.
"""

from __future__ import annotations

import math
from datetime import timedelta

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.contrib.auth.signals import user_login_failed
from django.db.models import Max
from django.http import HttpRequest
from django.utils import timezone

Credentials = dict[str, str]


def credentials(username: str, domain: str) -> Credentials:
    """The name failures are counted under: Keystone names are per domain; case-folded, so
    "Demo" does not start a fresh count for "demo"."""
    return {"username": f"{domain}/{username}".lower()[:255]}


def locked_for(request: HttpRequest, creds: Credentials) -> timedelta | None:
    """How long this user name stays locked from this address; None when it may try."""
    if AxesProxyHandler.is_allowed(request, creds):
        return None
    cool_off = get_cool_off(request) or timedelta(0)
    last = AccessAttempt.objects.filter(
        username=creds["username"], ip_address=getattr(request, "axes_ip_address", None)
    ).aggregate(last=Max("attempt_time"))["last"]
    if last is None:
        return cool_off
    return max(last + cool_off - timezone.now(), timedelta(seconds=1))


def failed(request: HttpRequest, creds: Credentials) -> timedelta | None:
    """Counts a wrong password; returns the lock's length when this failure locked the name."""
    user_login_failed.send(sender=__name__, credentials=creds, request=request)
    return locked_for(request, creds) if getattr(request, "axes_locked_out", False) else None


def succeeded(request: HttpRequest, creds: Credentials) -> None:
    """A good login wipes this name's failures from this address (not from others)."""
    AccessAttempt.objects.filter(
        username=creds["username"], ip_address=getattr(request, "axes_ip_address", None)
    ).delete()


def retry_message(wait: timedelta) -> str:
    seconds = math.ceil(wait.total_seconds())
    when = f"{seconds} seconds" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"
    return f"Too many failed logins for this user from your address: try again in {when}."
