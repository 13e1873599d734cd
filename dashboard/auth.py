"""Who is calling: a Keystone identity, from the browser session or an X-Auth-Token.

API clients send a Keystone token, as with every OpenStack API; it is
validated against Keystone with the dashboard's service account and cached
until it expires (at most ``KEYSTONE_TOKEN_CACHE_SECONDS``, as
keystonemiddleware does). Browsers carry the same identity in their session,
put there at login.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

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


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


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


def validate_token(token: str) -> Caller:
    """Ask Keystone what ``token`` is, with the dashboard's service account; cached."""
    key = "keystone-token:" + hashlib.sha256(token.encode()).hexdigest()
    cached = cache.get(key)
    if cached is not None:
        return Caller.from_dict(cached)
    from topology.cloud import service_connection

    response = service_connection().identity.get(
        "/auth/tokens", headers={"X-Subject-Token": token}, raise_exc=False
    )
    if response.status_code in (401, 403, 404):
        raise TokenInvalid(f"Keystone answered {response.status_code}")
    response.raise_for_status()
    caller = caller_from_token_body(response.json(), token)
    ttl = (parse_time(caller.expires_at) - timezone.now()).total_seconds()
    if ttl > 0:
        cache.set(key, caller.to_dict(), min(ttl, settings.KEYSTONE_TOKEN_CACHE_SECONDS))
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
    data = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    if not data or not request.user.is_authenticated:
        return None
    caller = Caller.from_dict(data)
    return None if caller.expired() else caller


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
        caller = session_caller(request._request)
        if caller is None:
            return None
        self.enforce_csrf(request)
        return request._request.user, caller


class IsProjectScoped(permissions.BasePermission):
    message = "A project-scoped Keystone token (or login) is required."

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, Caller) and request.auth.project_id is not None


class IsCloudAdmin(permissions.BasePermission):
    message = "This needs the admin role."

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, Caller) and request.auth.is_admin
