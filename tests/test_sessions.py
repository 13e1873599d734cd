"""Sessions without the lab: sealed tokens, a changed key, and the pruning beat task."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.test import Client, override_settings

from dashboard import sessiontokens
from dashboard.sealing import seal_json
from dashboard.sessiontokens import KeystoneSecrets
from tests.browser import caller, session_for

pytestmark = pytest.mark.django_db

SECRETS = KeystoneSecrets(token="gAAAA-scoped-token-text", unscoped="gAAAA-unscoped-token-text", body={"token": {}})


def sealed_session() -> str:
    key = session_for(caller("demo", "p-demo"))
    store = SessionStore(key)
    sessiontokens.keep(store, SECRETS)
    store.save()
    return key


def test_the_sealed_tokens_are_not_in_the_row_and_open_with_the_key() -> None:
    key = sealed_session()
    raw = Session.objects.get(session_key=key).session_data
    decoded = str(SessionStore().decode(raw))
    assert SECRETS.token not in raw + decoded and SECRETS.unscoped not in raw + decoded
    assert sessiontokens.kept(SessionStore(key)) == SECRETS


def test_tokens_sealed_under_another_key_log_the_session_out(settings: Any) -> None:
    key = sealed_session()
    client = Client()
    client.cookies["sessionid"] = key
    assert client.get("/jobs/").status_code == 200
    with override_settings(SECRET_KEY="another-key", SECRET_KEY_FALLBACKS=[]):
        foreign = seal_json(sessiontokens.PURPOSE, asdict(SECRETS))
    store = SessionStore(key)
    store[sessiontokens.SEALED_KEY] = foreign
    store.save()
    response = client.get("/jobs/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    # While rotating keys, the old key among the fallbacks still opens it.
    with override_settings(SECRET_KEY=settings.SECRET_KEY, SECRET_KEY_FALLBACKS=["another-key"]):
        assert sessiontokens.kept(SessionStore(key)) == SECRETS


def test_the_beat_task_deletes_expired_sessions_only() -> None:
    from dashboard.celery import app
    from dashboard.tasks import clear_sessions

    expired, live = SessionStore(), SessionStore()
    expired.set_expiry(-10)
    expired.create()
    live.create()
    clear_sessions()
    keys = set(Session.objects.values_list("session_key", flat=True))
    assert expired.session_key not in keys
    assert live.session_key in keys
    # It runs on a schedule: in the beat schedule, under the name the worker registered.
    app.loader.import_default_modules()
    assert "dashboard.clear_sessions" in app.tasks
    entries = app.conf.beat_schedule.values()
    assert any(e["task"] == "dashboard.clear_sessions" and e["schedule"] > 0 for e in entries)


def test_job_credentials_sealed_before_the_shared_sealing_still_open(settings: Any) -> None:
    """tasks/credentials.py now seals through dashboard/sealing.py: a row sealed the old way still opens."""
    import base64
    import hashlib
    import json

    from cryptography.fernet import Fernet

    from tasks.credentials import unseal

    who = caller("demo", "p-demo")
    body: dict[str, Any] = {"token": {"catalog": []}}
    old_key = base64.urlsafe_b64encode(hashlib.sha256(b"tasks.JobCredential\0" + settings.SECRET_KEY.encode()).digest())
    sealed = Fernet(old_key).encrypt(json.dumps({"caller": who.to_dict(), "body": body}).encode())
    assert unseal(sealed) == (who, body)
