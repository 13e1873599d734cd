"""A verdict change POSTed to its watch's webhook, signed with the watch's secret (HMAC-SHA256).

A webhook never goes to an address inside the dashboard's own networks unless an operator
allows it (settings.WATCH_WEBHOOK_ALLOW, DASHBOARD_WATCH_WEBHOOK_ALLOW: CIDRs and host names):
a user could otherwise make the dashboard POST to its database, its metadata service or a
neighbour. The URL's host is resolved and every address checked when the watch is stored
(:func:`refusal`, a 400 naming the reason) and again at each send (DNS may have changed):
the POST goes to the address that was checked (the connection pinned to it, the Host header and
TLS name the URL's), and redirects are not followed.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import socket
from urllib.parse import urlsplit

from django.conf import settings

SIGNATURE_HEADER = "X-Neutron-Map-Signature"
TIMEOUT = 5.0
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
PRIVATE = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))


class ForbiddenWebhook(ValueError):
    """The webhook's URL names or resolves to an address the dashboard does not POST to."""


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>`` of ``body`` under ``secret``: the receiver recomputes it and compares."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def body_of(message: dict[str, object]) -> bytes:
    return json.dumps(message, sort_keys=True, separators=(",", ":")).encode()


def forbidden_kind(address: Address) -> str | None:
    """Why ``address`` is not a webhook's by default (None: a global address)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return forbidden_kind(address.ipv4_mapped)
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", any(address in n for n in PRIVATE if n.version == address.version)),
        ("non-global", not address.is_global),
    )
    return next((kind for kind, hit in checks if hit), None)


def allowed(host: str, address: Address) -> bool:
    """Whether the operator's allow-list names ``host`` or a network holding ``address``."""
    for entry in settings.WATCH_WEBHOOK_ALLOW:
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            if entry.lower().rstrip(".") == host.lower().rstrip("."):
                return True
            continue
        if network.version == address.version and address in network:
            return True
    return False


def resolved(host: str, port: int) -> list[Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ForbiddenWebhook(f"webhook_url's host {host} cannot be resolved ({exc})") from exc
    return list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))


def checked(url: str) -> tuple[str, int, Address]:
    """(host, port, the address to connect to) of ``url``; ForbiddenWebhook naming why not."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ForbiddenWebhook("webhook_url must be an http or https URL")
    host = parts.hostname
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise ForbiddenWebhook(f"webhook_url's port is not valid ({exc})") from exc
    addresses = resolved(host, port)
    for address in addresses:
        kind = forbidden_kind(address)
        if kind is not None and not allowed(host, address):
            raise ForbiddenWebhook(
                f"webhook_url's host {host} is {address}, a {kind} address: webhooks do not go there "
                "(an operator may allow it in DASHBOARD_WATCH_WEBHOOK_ALLOW)"
            )
    return host, port, addresses[0]


def refusal(url: str) -> str | None:
    """Why a watch may not have ``url`` as its webhook (None: it may)."""
    try:
        checked(url)
    except ForbiddenWebhook as exc:
        return str(exc)
    return None


class PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to an address checked beforehand, whatever the host name resolves to now."""

    def __init__(self, host: str, port: int, address: Address, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((str(self.address), self.port), self.timeout)


class PinnedHTTPS(http.client.HTTPSConnection):
    """The same over TLS: the certificate checked against the URL's host name."""

    def __init__(self, host: str, port: int, address: Address, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        raw = socket.create_connection((str(self.address), self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


class WebhookError(OSError):
    """The receiver answered with an HTTP error status."""


def post(url: str, secret: str, message: dict[str, object]) -> int:
    """POST ``message`` as JSON; its HTTP status (raises ForbiddenWebhook before any connection to a
    forbidden address, OSError on a connection error, WebhookError on a status >= 400)."""
    host, port, address = checked(url)
    parts = urlsplit(url)
    body = body_of(message)
    kind = PinnedHTTPS if parts.scheme == "https" else PinnedHTTP
    connection = kind(host, port, address, TIMEOUT)
    try:
        connection.request(
            "POST",
            (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
            body=body,
            headers={"Content-Type": "application/json", SIGNATURE_HEADER: signature(secret, body)},
        )
        status = connection.getresponse().status
    finally:
        connection.close()
    if status >= 400:
        raise WebhookError(f"HTTP Error {status} from {host}")
    return int(status)
