"""Login with Keystone (keystoneauth1): password -> unscoped token -> projects -> project token.

The scoped token and its catalog stay server-side, in the session; the
browser holds only the session cookie. Tenant actions run with that token,
so Neutron's own policy decides what a user may do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import openstack.connection
from django.conf import settings
from keystoneauth1 import access
from keystoneauth1 import exceptions as ksa_exceptions
from keystoneauth1 import session as ksa_session
from keystoneauth1.identity import access as access_plugin
from keystoneauth1.identity import v3

from dashboard.auth import Caller, keystone_unreachable

log = logging.getLogger(__name__)
WRONG_CREDENTIALS = "The user name or password is wrong."
KEYSTONE_DOWN = "Keystone (the identity service) cannot be reached just now: try again in a minute."
KEYSTONE_REFUSED = "Keystone refused the login. If this persists, ask the administrators of the cloud."


class LoginFailed(Exception):
    """Wrong credentials, no project to work in, or Keystone unreachable; the message is safe to show."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Project:
    id: str
    name: str


def keystone_url() -> str:
    if settings.KEYSTONE_URL:
        return str(settings.KEYSTONE_URL)
    from topology.cloud import service_connection

    return str(service_connection().config.config["auth"]["auth_url"])


def caller_from_access(auth_ref: access.AccessInfo) -> Caller:
    if auth_ref.expires is None or not auth_ref.auth_token or not auth_ref.user_id:
        raise LoginFailed("Keystone returned an incomplete token")
    return Caller(
        user_id=auth_ref.user_id,
        user_name=auth_ref.username or auth_ref.user_id,
        project_id=auth_ref.project_id,
        project_name=auth_ref.project_name,
        roles=tuple(sorted(auth_ref.role_names or [])),
        expires_at=auth_ref.expires.isoformat(),
        token=auth_ref.auth_token,
    )


def password_login(username: str, password: str, domain: str) -> tuple[str, list[Project]]:
    """An unscoped token and the projects the user may scope to."""
    auth = v3.Password(
        auth_url=keystone_url(), username=username, password=password, user_domain_name=domain, unscoped=True
    )
    sess = ksa_session.Session(auth=auth, timeout=settings.CLOUD_API_TIMEOUT)
    try:
        token = sess.get_token()
        projects = sess.get(keystone_url().rstrip("/") + "/auth/projects").json()["projects"]
    except Exception as exc:  # keystoneauth raises Unauthorized, ConnectFailure, ...
        raise login_failed(exc) from exc
    enabled = [Project(p["id"], p["name"]) for p in projects if p.get("enabled", True)]
    if not enabled:
        raise LoginFailed("This user has no role in any project.", status=403)
    return str(token), sorted(enabled, key=lambda p: p.name)


def login_failed(exc: Exception) -> LoginFailed:
    """What an anonymous user may be told of a failed login; Keystone's own words go to the log only."""
    if getattr(exc, "http_status", None) == 401:
        return LoginFailed(WRONG_CREDENTIALS)
    if keystone_unreachable(exc):
        log.warning("login: Keystone unreachable: %r", exc)
        return LoginFailed(KEYSTONE_DOWN, status=503)
    log.warning("login: Keystone answered unexpectedly: %r", exc)
    return LoginFailed(KEYSTONE_REFUSED)


def revoke_token(token: str) -> None:
    """Keystone revokes ``token`` (``DELETE /v3/auth/tokens``, the token authenticating as its own subject)."""
    sess = ksa_session.Session(timeout=settings.CLOUD_API_TIMEOUT)
    url = keystone_url().rstrip("/") + "/auth/tokens"
    try:
        response = sess.delete(url, headers={"X-Auth-Token": token, "X-Subject-Token": token}, raise_exc=False)
    except ksa_exceptions.ClientException as exc:
        log.warning("logout: the token could not be revoked (it expires on its own): %r", exc)
        return
    if response.status_code not in (204, 404):
        log.warning("logout: Keystone answered %s to the token's revocation", response.status_code)


def rescope(unscoped_token: str, project_id: str) -> tuple[Caller, dict[str, Any]]:
    """A token scoped to ``project_id``; returns the caller and the token body (with its catalog)."""
    auth = v3.Token(auth_url=keystone_url(), token=unscoped_token, project_id=project_id)
    sess = ksa_session.Session(auth=auth, timeout=settings.CLOUD_API_TIMEOUT)
    try:
        auth_ref = auth.get_access(sess)
    except Exception as exc:
        raise login_failed(exc) from exc
    return caller_from_access(auth_ref), {"token": auth_ref._data["token"]}


def user_connection(caller: Caller, body: dict[str, Any]) -> openstack.connection.Connection:
    """openstacksdk acting as the user, with the token and catalog from login (no new token)."""
    auth_ref = access.create(body=body, auth_token=caller.token)
    plugin = access_plugin.AccessInfoPlugin(auth_ref, auth_url=keystone_url())
    sess = ksa_session.Session(auth=plugin, timeout=settings.CLOUD_API_TIMEOUT)
    return openstack.connection.Connection(session=sess)
