"""A verdict change POSTed to its watch's webhook, signed with the watch's secret (HMAC-SHA256)."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.request

SIGNATURE_HEADER = "X-Neutron-Map-Signature"
TIMEOUT = 5.0


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>`` of ``body`` under ``secret``: the receiver recomputes it and compares."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def body_of(message: dict[str, object]) -> bytes:
    return json.dumps(message, sort_keys=True, separators=(",", ":")).encode()


def post(url: str, secret: str, message: dict[str, object]) -> int:
    """POST ``message`` as JSON; its HTTP status (raises on a connection error or a status >= 400)."""
    body = body_of(message)
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: signature(secret, body)},
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        return int(response.status)
