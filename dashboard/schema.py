"""How the OpenAPI schema describes the dashboard's two ways to authenticate."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class KeystoneTokenScheme(OpenApiAuthenticationExtension):
    target_class = "dashboard.auth.KeystoneTokenAuthentication"
    name = "keystoneToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "X-Auth-Token", "description": "A Keystone token"}


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "dashboard.auth.SessionCallerAuthentication"
    name = "session"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}
