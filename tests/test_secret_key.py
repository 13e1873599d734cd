"""No public fallback key in production, and the checkout's own key made once (bin/secret-key)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard.secretkey import KeyFileUnsafe, ensure_key_file

REPO = Path(__file__).resolve().parent.parent


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DASHBOARD_VAR_DIR"))}
    return {**env, **extra}


def import_settings(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import dashboard.settings as s; print(s.SECRET_KEY)"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_settings_refuse_to_start_without_a_key_when_debug_is_off(tmp_path: Path) -> None:
    result = import_settings(clean_env(DASHBOARD_VAR_DIR=str(tmp_path)))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE) is not set" in result.stderr
    assert "dev-only" not in result.stdout


def test_settings_keep_the_development_key_only_with_debug(tmp_path: Path) -> None:
    result = import_settings(clean_env(DJANGO_DEBUG="1", DASHBOARD_VAR_DIR=str(tmp_path)))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "dev-only-insecure-key-change-me"


def test_settings_read_the_key_from_its_file(tmp_path: Path) -> None:
    key = ensure_key_file(tmp_path / "secret-key")
    result = import_settings(clean_env(DJANGO_SECRET_KEY_FILE=str(key)))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == key.read_text().strip()


def test_settings_use_the_checkouts_key_file_when_it_exists(tmp_path: Path) -> None:
    """Scripts of the checkout (bench/) find the key bin/run, bin/test or manage.py made."""
    key = ensure_key_file(tmp_path / "secret-key")
    result = import_settings(clean_env(DASHBOARD_VAR_DIR=str(tmp_path)))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == key.read_text().strip()
    key.chmod(0o640)
    refused = import_settings(clean_env(DASHBOARD_VAR_DIR=str(tmp_path)))
    assert refused.returncode != 0 and "readable by others" in refused.stderr


def run_secret_key(env: dict[str, str]) -> str:
    result = subprocess.run(
        [str(REPO / "bin" / "secret-key")], cwd="/", env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_bin_secret_key_makes_a_private_key_once_and_reuses_it(tmp_path: Path) -> None:
    env = clean_env(DASHBOARD_VAR_DIR=str(tmp_path / "var"))
    path = Path(run_secret_key(env))
    assert path == tmp_path / "var" / "secret-key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key, inode = path.read_text(), path.stat().st_ino
    assert len(key.strip()) >= 50
    assert Path(run_secret_key(env)) == path
    assert (path.read_text(), path.stat().st_ino) == (key, inode)
    # Another checkout gets another key.
    other = Path(run_secret_key(clean_env(DASHBOARD_VAR_DIR=str(tmp_path / "other"))))
    assert other.read_text() != key


def test_bin_secret_key_defers_to_a_given_key(tmp_path: Path) -> None:
    assert run_secret_key(clean_env(DJANGO_SECRET_KEY="given", DASHBOARD_VAR_DIR=str(tmp_path))) == ""
    given = tmp_path / "mine"
    assert run_secret_key(clean_env(DJANGO_SECRET_KEY_FILE=str(given), DASHBOARD_VAR_DIR=str(tmp_path))) == str(given)
    assert not (tmp_path / "secret-key").exists()


def test_a_key_file_others_may_read_is_refused(tmp_path: Path) -> None:
    path = ensure_key_file(tmp_path / "secret-key")
    path.chmod(0o644)
    with pytest.raises(KeyFileUnsafe, match="chmod 600"):
        ensure_key_file(path)
    result = subprocess.run(
        [sys.executable, "-m", "dashboard.secretkey", str(path)],
        cwd=REPO,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "readable by others" in result.stderr


def test_manage_py_uses_the_checkouts_key_file(tmp_path: Path) -> None:
    env = clean_env(DASHBOARD_VAR_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", "from django.conf import settings; print(settings.SECRET_KEY)"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == (tmp_path / "secret-key").read_text().strip()
