"""Production behind TLS: one switch (DJANGO_HTTPS) for secure cookies, redirect and HSTS; each settable apart."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.test_secret_key import REPO, clean_env

KEY = "k" * 60
NAMES = [
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_PROXY_SSL_HEADER",
    "CSRF_TRUSTED_ORIGINS",
]
DEPLOY_WARNINGS = ("security.W004", "security.W008", "security.W012", "security.W016")


def settings_with(**env: str) -> dict[str, object]:
    code = f"import json, dashboard.settings as s; print(json.dumps({{n: getattr(s, n) for n in {NAMES!r}}}))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=clean_env(DJANGO_SECRET_KEY=KEY, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_plain_http_by_default() -> None:
    assert settings_with() == {
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
        "SECURE_PROXY_SSL_HEADER": None,
        "CSRF_TRUSTED_ORIGINS": [],
    }


def test_https_switches_on_secure_cookies_redirect_and_hsts() -> None:
    values = settings_with(
        DJANGO_HTTPS="1",
        DJANGO_SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
        DJANGO_CSRF_TRUSTED_ORIGINS="https://dash.example.org",
    )
    assert values == {
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "CSRF_TRUSTED_ORIGINS": ["https://dash.example.org"],
    }


def test_each_can_be_set_apart() -> None:
    values = settings_with(DJANGO_HTTPS="1", DJANGO_SECURE_SSL_REDIRECT="0", DJANGO_SECURE_HSTS_SECONDS="3600")
    assert values["SECURE_SSL_REDIRECT"] is False and values["SECURE_HSTS_SECONDS"] == 3600
    assert values["SESSION_COOKIE_SECURE"] is True


def deploy_check(**env: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=REPO,
        env=clean_env(DJANGO_SECRET_KEY=KEY, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.stdout + result.stderr


def test_djangos_deploy_check_is_satisfied_with_https_on() -> None:
    assert all(w in deploy_check() for w in DEPLOY_WARNINGS)
    with_https = deploy_check(DJANGO_HTTPS="1")
    assert not [w for w in DEPLOY_WARNINGS if w in with_https], with_https
