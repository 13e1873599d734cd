"""Keystone token validations shared by every process of the dashboard: kept in Redis.

What Keystone said of an X-Auth-Token (the caller it stands for) is kept under a keyed hash of the
token (HMAC-SHA256 with a key derived from SECRET_KEY: never the token itself, and a reader of Redis
cannot test a guessed token), sealed (dashboard/sealing.py: Fernet, a key of its own purpose) together
with that hash. An entry is trusted only if it opens with the dashboard's key *and* names the key it is
read under, so an entry copied under another token's key, altered, or written by anyone without
SECRET_KEY is a miss: the token is validated with Keystone again. The entry lives as long as the token
and at most ``KEYSTONE_TOKEN_CACHE_SECONDS`` (as keystonemiddleware's cache does); ``forget`` drops it
for every process at once (a token revoked at logout).

Redis away is a miss, never a hit: the token is then validated with Keystone, as without a cache.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
from datetime import datetime
from functools import lru_cache
from typing import Any

import redis
from django.conf import settings

from dashboard.sealing import SealBroken, open_json, seal_json

log = logging.getLogger(__name__)
PURPOSE = "keystone-token-cache"
KEY_PREFIX = "neutron-map:keystone-token:"
# A request must not wait long on a Redis that does not answer: it then asks Keystone instead.
REDIS_TIMEOUT_SECONDS = 0.5


@lru_cache(maxsize=8)
def client_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS)


def client() -> redis.Redis:
    return client_for(settings.KEYSTONE_TOKEN_CACHE_URL)


def token_digest(token: str) -> str:
    """The token's keyed hash (SECRET_KEY's): what names its entry."""
    key = hashlib.sha256(PURPOSE.encode() + b"\0" + settings.SECRET_KEY.encode()).digest()
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


def entry_key(token: str) -> str:
    return KEY_PREFIX + token_digest(token)


def ttl_seconds(expires_at: datetime, now: datetime, maximum: int) -> float:
    """How long an entry may live: until the token expires, and at most ``maximum`` (<= 0: not kept)."""
    return max(0.0, min((expires_at - now).total_seconds(), float(maximum)))


def seal_entry(digest: str, caller: dict[str, Any]) -> str:
    return seal_json(PURPOSE, {"key": digest, "caller": caller})


def open_entry(digest: str, raw: bytes) -> dict[str, Any] | None:
    """The caller an entry holds, if it is one this dashboard sealed for this very key (else None)."""
    try:
        entry = open_json(PURPOSE, raw)
    except SealBroken:
        return None
    if not isinstance(entry, dict) or not hmac.compare_digest(str(entry.get("key", "")), digest):
        return None
    caller = entry.get("caller")
    return caller if isinstance(caller, dict) else None


def get(token: str) -> dict[str, Any] | None:
    """The caller cached for ``token`` (None: none, Redis away, or an entry not to be trusted)."""
    digest = token_digest(token)
    try:
        raw = client().get(KEY_PREFIX + digest)
    except redis.RedisError as exc:
        log.warning("Keystone token cache: Redis unavailable (%r): validating with Keystone", exc)
        return None
    if not isinstance(raw, bytes):  # None: no entry (the client decodes no responses)
        return None
    caller = open_entry(digest, raw)
    if caller is None:
        log.warning("Keystone token cache: an entry that this dashboard did not seal for its key: ignored")
    return caller


def put(token: str, caller: dict[str, Any], seconds: float) -> None:
    """Keep ``caller`` for ``token`` this long (Redis away: not kept; the next request asks Keystone)."""
    milliseconds = math.floor(seconds * 1000)
    if milliseconds <= 0:
        return
    digest = token_digest(token)
    try:
        client().set(KEY_PREFIX + digest, seal_entry(digest, caller), px=milliseconds)
    except redis.RedisError as exc:
        log.warning("Keystone token cache: Redis unavailable (%r): validation not kept", exc)


def forget(token: str) -> bool:
    """Drop ``token``'s entry for every process (False: Redis away, the entry may stay until it expires)."""
    try:
        client().delete(entry_key(token))
    except redis.RedisError as exc:
        log.warning("Keystone token cache: Redis unavailable (%r): a revoked token's entry not dropped", exc)
        return False
    return True
