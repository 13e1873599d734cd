"""Who is calling: a Keystone identity, from the browser session or an X-Auth-Token.

API clients send a Keystone token, as with every OpenStack API; it is
validated against Keystone with the dashboard's service account and cached
until it expires (at most ``KEYSTONE_TOKEN_CACHE_SECONDS``, as
keystonemiddleware does), in Redis, shared by every process
(dashboard/tokencache.py). Browsers carry the same identity in their session,
put there at login.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest
from django.utils import timezone
from keystoneauth1 import exceptions as ksa_exceptions
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from dashboard import sessiontokens, tokencache
from dashboard.isotime import parse_time
from dashboard.sealing import SealBroken

log = logging.getLogger(__name__)
SESSION_KEY = "keystone"
ADMIN_ROLE = "admin"


@dataclass(frozen=True)
class Caller:
    """A Keystone user scoped to a project (or not scoped: project_id None)."""

    user_id: str
    user_name: str
    project_id: str | None
    project_name: str | None
    roles: tuple[str, ...]
    expires_at: str
    token: str = ""

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in self.roles and self.project_id is not None

    @property
    def scope(self) -> str | None:
        """The project whose objects this caller sees; None = the whole cloud."""
        return None if self.is_admin else self.project_id

    def expired(self) -> bool:
        return parse_time(self.expires_at) <= timezone.now()

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "roles": list(self.roles)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Caller:
        return cls(**{**data, "roles": tuple(data.get("roles", ()))})


def caller_from_token_body(body: dict[str, Any], token: str) -> Caller:
    """Read a Keystone v3 token body (``{"token": {...}}``)."""
    data = body["token"]
    project = data.get("project") or {}
    return Caller(
        user_id=data["user"]["id"],
        user_name=data["user"]["name"],
        project_id=project.get("id"),
        project_name=project.get("name"),
        roles=tuple(sorted(role["name"] for role in data.get("roles", []))),
        expires_at=data["expires_at"],
        token=token,
    )


class TokenInvalid(Exception):
    """Keystone does not know the token (expired, revoked or made up)."""


KEYSTONE_RETRY_AFTER_SECONDS = 30


class KeystoneUnavailable(exceptions.APIException):
    """503 (with Retry-After: DRF sends ``wait``): the token cannot be validated now, it may well be good."""

    status_code = 503
    default_code = "keystone_unavailable"
    wait = KEYSTONE_RETRY_AFTER_SECONDS


def keystone_unreachable(exc: BaseException) -> bool:
    """Keystone is down or failing (no answer, or a 5xx), as opposed to refusing what was asked."""
    if isinstance(exc, ksa_exceptions.ConnectionError | ksa_exceptions.DiscoveryFailure):
        return True
    status = getattr(exc, "http_status", None) or getattr(getattr(exc, "response", None), "status_code", None)
    return isinstance(status, int) and status >= 500


def forget_token(token: str) -> None:
    """Drop what validation cached of ``token``, for every process (it was revoked: API clients must not
    use it any more)."""
    tokencache.forget(token)


def cached_caller(token: str) -> Caller | None:
    """The caller a validation of ``token`` (by any process) left in the cache, if still good."""
    if settings.KEYSTONE_TOKEN_CACHE_SECONDS <= 0:  # caching off: not even what was kept before
        return None
    cached = tokencache.get(token)
    if cached is None:
        return None
    try:
        caller = replace(Caller.from_dict(cached), token=token)
    except (TypeError, KeyError, ValueError):
        return None
    return None if caller.expired() else caller


def keep_caller(token: str, caller: Caller) -> None:
    """Cache the validation (never the token: the entry is named by its hash and holds no copy)."""
    seconds = tokencache.ttl_seconds(
        parse_time(caller.expires_at), timezone.now(), settings.KEYSTONE_TOKEN_CACHE_SECONDS
    )
    tokencache.put(token, replace(caller, token="").to_dict(), seconds)


def validate_token(token: str) -> Caller:
    """Ask Keystone what ``token`` is, with the dashboard's service account; cached for every process."""
    cached = cached_caller(token)
    if cached is not None:
        return cached
    from dashboard.keystone import keystone_url
    from topology.cloud import service_connection

    try:
        response = service_connection().session.get(
            keystone_url().rstrip("/") + "/auth/tokens", headers={"X-Subject-Token": token}, raise_exc=False
        )
    except ksa_exceptions.ClientException as exc:
        if not keystone_unreachable(exc):
            raise
        log.warning("X-Auth-Token validation: Keystone unreachable: %r", exc)
        raise KeystoneUnavailable(
            f"Keystone cannot be reached ({type(exc).__name__}): the X-Auth-Token "
            "cannot be validated just now; retry later."
        ) from exc
    if response.status_code in (401, 403, 404):
        raise TokenInvalid(f"Keystone answered {response.status_code}")
    if response.status_code >= 500:
        log.warning("X-Auth-Token validation: Keystone answered %s", response.status_code)
        raise KeystoneUnavailable(
            f"Keystone answered {response.status_code}: the X-Auth-Token cannot be validated just now; retry later."
        )
    response.raise_for_status()
    caller = caller_from_token_body(response.json(), token)
    keep_caller(token, caller)
    return caller


def shadow_user(caller: Caller) -> Any:
    """The Django user standing for a Keystone user (keyed by its id), so sessions and Channels work."""
    # Read first: API requests come often and must not each take SQLite's write lock.
    users = get_user_model().objects
    username, name = f"keystone:{caller.user_id}"[:150], caller.user_name[:150]
    user = users.filter(username=username).first()
    if user is None:
        user, _ = users.get_or_create(username=username, defaults={"first_name": name})
    elif user.first_name != name:
        user.first_name = name
        user.save(update_fields=["first_name"])
    return user


def session_caller(request: HttpRequest) -> Caller | None:
    """The session's caller, with its token unsealed (None: not logged in, expired, or sealed by another key)."""
    if not hasattr(request, "session") or not request.user.is_authenticated:
        return None
    return kept_caller(request.session)


def kept_caller(session: SessionBase) -> Caller | None:
    """The caller a logged-in user's session keeps (None: none, expired, or sealed by another key)."""
    data = session.get(SESSION_KEY)
    if not data:
        return None
    caller = Caller.from_dict(data)
    if caller.expired():
        return None
    try:
        secrets = sessiontokens.kept(session)
    except SealBroken:
        log.warning("a session's Keystone tokens cannot be unsealed (SECRET_KEY changed?): logged out")
        return None
    return replace(caller, token=secrets.token) if secrets else caller


class KeystoneTokenAuthentication(authentication.BaseAuthentication):
    """``X-Auth-Token: <Keystone token>``, as every OpenStack API takes it."""

    def authenticate(self, request: Request) -> tuple[AbstractBaseUser, Caller] | None:
        token = request.META.get("HTTP_X_AUTH_TOKEN")
        if not token:
            return None
        try:
            caller = validate_token(token)
        except TokenInvalid as exc:
            raise exceptions.AuthenticationFailed(f"The X-Auth-Token is not valid: {exc}") from exc
        return shadow_user(caller), caller

    def authenticate_header(self, request: Request) -> str:
        # As Neutron answers: tells clients where to get a token (and makes DRF answer 401, not 403).
        return f'Keystone uri="{settings.KEYSTONE_PUBLIC_URL}"'


class SessionCallerAuthentication(authentication.SessionAuthentication):
    """The browser's session from the login page; CSRF enforced on writes (DRF does it)."""

    def authenticate(self, request: Request) -> tuple[Any, Caller] | None:
        # DRF's own session check: the session's active user, CSRF enforced on writes
        found = super().authenticate(request)
        caller = kept_caller(request.session) if found is not None else None
        if found is None or caller is None:
            return None
        return found[0], caller


class IsProjectScoped(permissions.BasePermission):
    message = "A project-scoped Keystone token (or login) is required."

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, Caller) and request.auth.project_id is not None


class IsCloudAdmin(permissions.BasePermission):
    message = "This needs the admin role."

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, Caller) and request.auth.is_admin
