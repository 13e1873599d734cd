"""Turn a ``DATABASE_URL`` into Django's DATABASES entry (SQLite or PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit


def sqlite(path: Path) -> dict[str, Any]:
    """SQLite set up for a web server, a Celery worker and agents writing at once:
    WAL lets readers go on during a write, IMMEDIATE takes the write lock up front
    (no deadlocking upgrades), and a writer waits for the lock instead of failing."""
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"},
    }


def parse_database_url(url: str, base_dir: Path) -> dict[str, Any]:
    """Return a Django database dict for ``sqlite:///path`` or ``postgres://``."""
    if not url:
        return sqlite(base_dir / "var" / "db.sqlite3")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        path = unquote(parts.path)
        # sqlite:///relative.db -> "relative.db"; sqlite:////abs.db -> "/abs.db".
        name = Path(path[1:])
        return sqlite(name if name.is_absolute() else base_dir / name)
    if scheme in {"postgres", "postgresql", "pgsql"}:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
        }
    raise ValueError(f"DATABASE_URL scheme {scheme!r} is not supported (use sqlite:// or postgres://)")
