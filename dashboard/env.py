"""Tiny typed helpers that read settings from the environment.

A secret may also be given as ``<NAME>_FILE`` pointing at a file, so it need
not sit in the process environment.
"""

from __future__ import annotations

import os
from pathlib import Path


def env(name: str, default: str = "") -> str:
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        return Path(file_name).read_text().strip()
    return os.environ.get(name, default)


def envbool(name: str, default: bool = False) -> bool:
    value = env(name, "")
    if not value:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def envint(name: str, default: int) -> int:
    value = env(name, "")
    return int(value) if value else default


def envlist(name: str, default: list[str]) -> list[str]:
    value = env(name, "")
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def proxy_ssl_header(header: str) -> tuple[str, str] | None:
    """``X-Forwarded-Proto`` -> Django's SECURE_PROXY_SSL_HEADER (``HTTP_X_FORWARDED_PROTO`` = ``https``)."""
    name = header.strip()
    if not name:
        return None
    return "HTTP_" + name.upper().replace("-", "_"), "https"
