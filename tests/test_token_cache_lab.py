"""X-Auth-Token validations shared by the dashboard's processes (dashboard/tokencache.py), with the lab's
real Keystone and real Redis: a second process takes the first one's validation, a token dropped by one
process is dropped for all, Redis stopped means asking Keystone (never accepting), and demo's entry
never answers for alt's token, nor alt's for demo's.

"Keystone away" is KEYSTONE_URL pointed at a loopback port nothing listens on: the validation request
is refused, as by a Keystone that is down, so only the cache can answer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, override_settings

from dashboard import tokencache
from dashboard.auth import Caller, KeystoneUnavailable, TokenInvalid, forget_token, validate_token
from dashboard.keystone import revoke_token
from tests.conftest import REPO, free_port, lab_connection
from tests.redis_server import OwnRedis

pytestmark = [pytest.mark.lab, pytest.mark.django_db]

OTHER_PROCESS = """
import json, sys
import django
django.setup()
from dashboard import auth, keystone
token = sys.stdin.read()
try:
    if sys.argv[1] == "validate":
        print(json.dumps({"caller": auth.validate_token(token).to_dict()}))
    else:  # what the logout view does with a session's tokens
        keystone.revoke_token(token)
        auth.forget_token(token)
        print(json.dumps({"forgotten": True}))
except Exception as exc:
    print(json.dumps({"error": type(exc).__name__}))
"""


def fresh_token(user: str) -> str:
    """A token of the lab's ``user`` of its own (revoking it touches no other test's)."""
    return str(lab_connection(f"lab-{user}").auth_token)


def dead_keystone() -> str:
    return f"http://127.0.0.1:{free_port()}/v3"


def other_process(action: str, token: str, **environ: str) -> dict[str, Any]:
    """``action`` on ``token`` in a fresh Python process with the dashboard's settings (and this run's key)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", **environ}
    done = subprocess.run(
        [sys.executable, "-c", OTHER_PROCESS, action],
        input=token,
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def store_two_projects_graph(first: str, second: str) -> None:
    """A small synthetic cloud (bench/synthetic.py) joined and stored, its two projects given these ids."""
    from django.utils import timezone

    from bench.synthetic import synthetic_cloud, uid
    from topology.join import join
    from topology.models import GraphState

    ids = {uid("project", 0).replace("-", ""): first, uid("project", 1).replace("-", ""): second}
    graph = join(*synthetic_cloud(3, 6, 2, 1)).to_dict()
    for node in graph["nodes"]:
        if node.get("project_id") in ids:
            node["project_id"] = ids[node["project_id"]]
    state, _ = GraphState.objects.get_or_create(id=1)
    state.revision += 1
    state.generated_at = timezone.now()
    state.graph = graph
    state.save()


def identity(caller: Caller | dict[str, Any]) -> dict[str, Any]:
    data = caller.to_dict() if isinstance(caller, Caller) else dict(caller)
    return {k: data[k] for k in ("user_id", "user_name", "project_id", "project_name", "roles")}


def test_a_second_process_takes_the_first_ones_validation(lab: dict[str, Any]) -> None:
    token = fresh_token("demo")
    # nothing cached yet: another process with Keystone away cannot validate the token
    assert other_process("validate", token, KEYSTONE_URL=dead_keystone()) == {"error": "KeystoneUnavailable"}
    caller = validate_token(token)  # this process asks Keystone, and keeps the answer in Redis
    assert caller.user_name == "demo" and caller.project_name == "demo"
    found = other_process("validate", token, KEYSTONE_URL=dead_keystone())
    assert "caller" in found, found
    assert identity(found["caller"]) == identity(caller)
    assert found["caller"]["expires_at"] == caller.expires_at


def test_a_token_dropped_by_one_process_is_dropped_for_every_process(lab: dict[str, Any]) -> None:
    token = fresh_token("demo")
    api = Client()
    assert api.get("/api/v1/topology/", HTTP_X_AUTH_TOKEN=token).status_code == 200  # validated, kept
    with override_settings(KEYSTONE_URL=dead_keystone()):
        assert validate_token(token).user_name == "demo"  # from the cache
    assert other_process("logout", token) == {"forgotten": True}
    # this process does not keep a copy of its own: with Keystone away the token is not accepted
    with override_settings(KEYSTONE_URL=dead_keystone()), pytest.raises(KeystoneUnavailable):
        validate_token(token)
    with pytest.raises(TokenInvalid):  # and Keystone says it is revoked
        validate_token(token)
    assert api.get("/api/v1/topology/", HTTP_X_AUTH_TOKEN=token).status_code == 401


def test_redis_stopped_means_asking_keystone_never_accepting(lab: dict[str, Any], tmp_path: Path) -> None:
    redis = OwnRedis(tmp_path / "redis")
    redis.start()
    try:
        with override_settings(KEYSTONE_TOKEN_CACHE_URL=redis.url):
            token, other = fresh_token("demo"), fresh_token("alt")
            assert validate_token(token).user_name == "demo"
            assert redis.client().exists(tokencache.entry_key(token)) == 1  # kept in that Redis
            redis.stop()
            api = Client()
            # validated with Keystone as without a cache: a good token still gets in
            assert validate_token(token).user_name == "demo"
            assert validate_token(other).user_name == "alt"
            assert api.get("/api/v1/topology/", HTTP_X_AUTH_TOKEN=other).status_code == 200
            # Keystone away as well: 503, not the entry Redis held
            with override_settings(KEYSTONE_URL=dead_keystone()):
                response = api.get("/api/v1/topology/", HTTP_X_AUTH_TOKEN=token)
            assert response.status_code == 503 and response["Retry-After"] == "30"
            # a revoked token is refused
            revoke_token(token)
            with pytest.raises(TokenInvalid):
                validate_token(token)
            assert api.get("/api/v1/topology/", HTTP_X_AUTH_TOKEN=token).status_code == 401
            assert api.get("/api/v1/topology/", HTTP_X_AUTH_TOKEN="made-up-token").status_code == 401
    finally:
        if redis.up():
            redis.stop()


@pytest.mark.parametrize(("owner", "other"), [("demo", "alt"), ("alt", "demo")])
def test_one_projects_entry_never_answers_for_anothers_token(lab: dict[str, Any], owner: str, other: str) -> None:
    """``owner``'s entry copied over ``other``'s (a tampered key: what someone writing to Redis could do)
    is not taken for ``other``'s token: Keystone is asked, and answers ``other``."""
    owner_token, other_token = fresh_token(owner), fresh_token(other)
    mine, theirs = validate_token(owner_token), validate_token(other_token)
    assert (mine.project_name, theirs.project_name) == (owner, other)
    assert mine.project_id != theirs.project_id
    redis = tokencache.client()
    owner_key, other_key = tokencache.entry_key(owner_token), tokencache.entry_key(other_token)
    assert owner_key != other_key
    entry = redis.get(owner_key)
    assert isinstance(entry, bytes)
    redis.set(other_key, entry, px=60000)
    with override_settings(KEYSTONE_URL=dead_keystone()):
        with pytest.raises(KeystoneUnavailable):  # the copied entry is no answer
            validate_token(other_token)
        assert identity(validate_token(owner_token)) == identity(mine)  # the owner's own still is
    again = validate_token(other_token)  # from Keystone
    assert identity(again) == identity(theirs) and again.token == other_token
    with override_settings(KEYSTONE_URL=dead_keystone()):  # and kept afresh under its key
        assert identity(validate_token(other_token)) == identity(theirs)
    # through the API, after the same tampering: the other project's token sees its project, not the owner's
    assert mine.project_id is not None and theirs.project_id is not None
    store_two_projects_graph(mine.project_id, theirs.project_id)
    redis.set(other_key, entry, px=60000)
    response = Client().get("/api/v1/topology/?view=logical", HTTP_X_AUTH_TOKEN=other_token)
    assert response.status_code == 200
    projects = {n.get("project_id") for n in response.json()["nodes"]} - {None, ""}
    assert theirs.project_id in projects and mine.project_id not in projects


def test_nothing_of_the_token_is_kept_in_clear(lab: dict[str, Any]) -> None:
    token = fresh_token("alt")
    caller = validate_token(token)
    raw = tokencache.client().get(tokencache.entry_key(token))
    assert raw is not None
    for secret in (token, caller.user_id, caller.project_id or "-"):
        assert secret.encode() not in raw and secret not in tokencache.entry_key(token)
    kept = tokencache.get(token)
    assert kept is not None and kept["token"] == ""  # the entry holds no copy of the token
    assert replace(validate_token(token), token="") == replace(caller, token="")
    forget_token(token)


def test_with_caching_off_every_request_asks_keystone(lab: dict[str, Any]) -> None:
    token = fresh_token("demo")
    assert validate_token(token).user_name == "demo"  # kept
    with override_settings(KEYSTONE_TOKEN_CACHE_SECONDS=0):
        with override_settings(KEYSTONE_URL=dead_keystone()), pytest.raises(KeystoneUnavailable):
            validate_token(token)  # what was kept is not used
        forget_token(token)
        assert validate_token(token).user_name == "demo"
        assert tokencache.client().exists(tokencache.entry_key(token)) == 0  # and nothing is kept
