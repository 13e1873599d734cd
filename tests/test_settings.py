from pathlib import Path

import pytest

from dashboard.dburl import parse_database_url
from dashboard.env import envbool, envint, envlist

BASE = Path("/srv/app")


def test_it_defaults_to_sqlite_under_var() -> None:
    db = parse_database_url("", BASE)
    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert db["NAME"] == BASE / "var" / "db.sqlite3"
    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_it_reads_relative_and_absolute_sqlite_paths() -> None:
    assert parse_database_url("sqlite:///data/x.db", BASE)["NAME"] == BASE / "data" / "x.db"
    assert parse_database_url("sqlite:////tmp/x.db", BASE)["NAME"] == Path("/tmp/x.db")


def test_it_reads_postgres_urls() -> None:
    db = parse_database_url("postgres://neu%40tron:p%2Fw@127.0.0.1:5433/dash", BASE)
    assert db == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "dash",
        "USER": "neu@tron",
        "PASSWORD": "p/w",
        "HOST": "127.0.0.1",
        "PORT": "5433",
    }


def test_it_refuses_unknown_database_schemes() -> None:
    with pytest.raises(ValueError, match="mysql"):
        parse_database_url("mysql://x/y", BASE)


def test_env_helpers_read_files_and_types(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "flag"
    secret.write_text("yes\n")
    monkeypatch.setenv("T_FLAG_FILE", str(secret))
    monkeypatch.setenv("T_NUM", "42")
    monkeypatch.setenv("T_LIST", "a, b,,c")
    assert envbool("T_FLAG") is True
    assert envbool("T_MISSING", default=False) is False
    assert envint("T_NUM", 1) == 42
    assert envint("T_MISSING", 7) == 7
    assert envlist("T_LIST", []) == ["a", "b", "c"]
