"""The shared Keystone token cache (dashboard/tokencache.py) against a real Redis, no Keystone needed:
entries named by a keyed hash, holding no token, bound to their key, and Redis away is a miss.

The validations themselves (a second process, Redis stopped while Keystone answers, demo vs alt) are
in tests/test_token_cache_lab.py, with the lab's Keystone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.test import override_settings

from dashboard import tokencache
from tests.redis_server import OwnRedis

DEMO = {"user_id": "u-demo", "user_name": "demo", "project_id": "p-demo", "project_name": "demo"}
ALT = {"user_id": "u-alt", "user_name": "alt", "project_id": "p-alt", "project_name": "alt"}


def stored(server: OwnRedis, key: str | bytes) -> bytes:
    raw = server.client().get(key)
    assert isinstance(raw, bytes), raw
    return raw


def caller(who: dict[str, str]) -> dict[str, object]:
    return {**who, "roles": ["member"], "expires_at": "2999-01-01T00:00:00Z", "token": ""}


@pytest.fixture
def own(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path / "redis")
    server.start()
    try:
        with override_settings(KEYSTONE_TOKEN_CACHE_URL=server.url):
            yield server
    finally:
        if server.up():
            server.stop()


def test_an_entry_is_named_by_a_keyed_hash_and_holds_no_token(own: OwnRedis) -> None:
    token = "gAAAAA-demo-token-" + "x" * 100
    tokencache.put(token, caller(DEMO), 60)
    key = tokencache.entry_key(token)
    assert own.client().keys("*") == [key.encode()]
    assert token not in key and token.encode() not in stored(own, key)
    assert b"u-demo" not in stored(own, key)  # sealed: not even who it is, in clear
    # keyed: another SECRET_KEY names the same token otherwise (a reader of Redis cannot test guesses)
    with override_settings(SECRET_KEY="another-key-" + "y" * 40):
        assert tokencache.entry_key(token) != key
        assert tokencache.get(token) is None
    assert tokencache.get(token) == caller(DEMO)


def test_an_entry_answers_only_under_its_own_key(own: OwnRedis) -> None:
    """demo's entry copied under alt's key (and alt's under demo's) is not taken for the other token."""
    demo, alt = "token-of-demo", "token-of-alt"
    tokencache.put(demo, caller(DEMO), 60)
    tokencache.put(alt, caller(ALT), 60)
    assert tokencache.get(demo) == caller(DEMO) and tokencache.get(alt) == caller(ALT)
    redis = own.client()
    demo_entry, alt_entry = stored(own, tokencache.entry_key(demo)), stored(own, tokencache.entry_key(alt))
    redis.set(tokencache.entry_key(alt), demo_entry)
    redis.set(tokencache.entry_key(demo), alt_entry)
    assert tokencache.get(alt) is None
    assert tokencache.get(demo) is None


def test_an_altered_or_forged_entry_is_a_miss(own: OwnRedis) -> None:
    token = "token-of-demo"
    tokencache.put(token, caller(DEMO), 60)
    key = tokencache.entry_key(token)
    raw = bytearray(stored(own, key))
    raw[len(raw) // 2] ^= 1
    own.client().set(key, bytes(raw))
    assert tokencache.get(token) is None
    # sealed for this very key, but with another SECRET_KEY: what someone without the key can make
    with override_settings(SECRET_KEY="another-key-" + "y" * 40):
        forged = tokencache.seal_entry(tokencache.token_digest(token), caller({**DEMO, "user_name": "admin"}))
    own.client().set(key, forged)
    assert tokencache.get(token) is None
    own.client().set(key, b"not even sealed")
    assert tokencache.get(token) is None


def test_the_entry_lives_as_long_as_the_token_and_at_most_the_setting(own: OwnRedis) -> None:
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    assert tokencache.ttl_seconds(now + timedelta(hours=1), now, 300) == 300
    assert tokencache.ttl_seconds(now + timedelta(seconds=42), now, 300) == 42
    assert tokencache.ttl_seconds(now - timedelta(seconds=1), now, 300) == 0
    assert tokencache.ttl_seconds(now + timedelta(hours=1), now, 0) == 0
    tokencache.put("token", caller(DEMO), 7.5)
    assert 6000 < own.client().pttl(tokencache.entry_key("token")) <= 7500
    tokencache.put("expired", caller(DEMO), 0)
    assert own.client().exists(tokencache.entry_key("expired")) == 0


def test_forget_drops_the_entry_for_everyone(own: OwnRedis) -> None:
    tokencache.put("token", caller(DEMO), 60)
    assert tokencache.forget("token") is True
    assert tokencache.get("token") is None
    assert own.client().exists(tokencache.entry_key("token")) == 0


def test_redis_away_is_a_miss_never_an_error(own: OwnRedis) -> None:
    tokencache.put("token", caller(DEMO), 60)
    own.stop()
    assert tokencache.get("token") is None
    tokencache.put("other", caller(ALT), 60)  # not kept, and no exception
    assert tokencache.forget("token") is False
    own.start()  # the same port and append-only file: the entry made before the stop is back
    assert tokencache.get("token") == caller(DEMO)
    assert tokencache.get("other") is None


def test_with_caching_off_no_entry_is_read_nor_kept(own: OwnRedis) -> None:
    from dashboard.auth import Caller, cached_caller, keep_caller

    demo = Caller.from_dict(caller(DEMO))
    keep_caller("token", demo)
    assert cached_caller("token") == replace(demo, token="token")  # kept, and given back with its token
    with override_settings(KEYSTONE_TOKEN_CACHE_SECONDS=0):
        assert cached_caller("token") is None  # what was kept before is not used
        keep_caller("other", demo)
    assert own.client().exists(tokencache.entry_key("other")) == 0
