"""Sealing secrets kept at rest (Fernet: AES-CBC + HMAC), with keys derived from SECRET_KEY.

One key per purpose (a session's tokens, a job's credential), so that what one
purpose sealed cannot be passed off as the other's. SECRET_KEY_FALLBACKS still
open what older keys sealed, while a key is being rotated.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SealBroken(Exception):
    """What was sealed cannot be opened: another key sealed it (SECRET_KEY changed), or it was altered."""


def _key(purpose: str, secret: str) -> Fernet:
    digest = hashlib.sha256(purpose.encode() + b"\0" + secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def fernet(purpose: str) -> MultiFernet:
    """Seals with the current key; opens with it or any fallback."""
    return MultiFernet([_key(purpose, secret) for secret in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]])


def seal_json(purpose: str, data: Any) -> str:
    return fernet(purpose).encrypt(json.dumps(data).encode()).decode()


def open_json(purpose: str, sealed: str | bytes | memoryview) -> Any:
    raw = sealed.encode() if isinstance(sealed, str) else bytes(sealed)
    try:
        return json.loads(fernet(purpose).decrypt(raw))
    except InvalidToken as exc:
        raise SealBroken(f"sealed {purpose} data cannot be opened (SECRET_KEY changed?)") from exc
