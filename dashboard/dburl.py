"""Turn a ``DATABASE_URL`` into Django's DATABASES entry (SQLite or PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit


def parse_database_url(url: str, base_dir: Path) -> dict[str, Any]:
    """Return a Django database dict for ``sqlite:///path`` or ``postgres://``."""
    if not url:
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": base_dir / "var" / "db.sqlite3"}
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        path = unquote(parts.path)
        # sqlite:///relative.db -> "relative.db"; sqlite:////abs.db -> "/abs.db".
        name = Path(path[1:])
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": name if name.is_absolute() else base_dir / name}
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
