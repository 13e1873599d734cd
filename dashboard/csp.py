"""A strict Content-Security-Policy on every page: scripts and styles only from the dashboard's own files.

No inline script, no inline style attribute, nothing from elsewhere: an injected
``<script>`` or ``onerror=`` does not run even if an escaping bug let it into a page.
Images may be data:/blob: URLs (the map's PNG export draws its SVG through one); the
websockets (map, jobs) go to this host, named explicitly for browsers whose 'self'
does not cover ws:/wss:.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponseBase

HEADER = "Content-Security-Policy"
BASE_POLICY = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)


def policy(request: HttpRequest) -> str:
    try:
        host = request.get_host()
    except DisallowedHost:  # the response is the 400 for that: no websocket to allow
        host = ""
    connect = "connect-src 'self'" + (f" ws://{host} wss://{host}" if host else "")
    return "; ".join((*BASE_POLICY, connect))


class ContentSecurityPolicyMiddleware:
    """Adds the policy to responses that do not set their own."""

    async_capable = True
    sync_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.is_async:
            return self.__acall__(request)
        return self.add(request, self.get_response(request))

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response = await self.get_response(request)  # type: ignore[misc]
        return self.add(request, response)

    @staticmethod
    def add(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if HEADER not in response:
            response[HEADER] = policy(request)
        return response
