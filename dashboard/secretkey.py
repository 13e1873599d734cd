"""The checkout's own secret key: made once, at random, in a file only its owner can read.

``bin/run``, ``bin/test`` and ``manage.py`` point ``DJANGO_SECRET_KEY_FILE`` at
``var/secret-key`` (made if missing) when no key is given, and the settings read
that file when it exists (so that scripts of the checkout, bench/ among them, use
the same key), so a checkout never runs on a key anyone could read in the source
(it signs sessions and seals job and session credentials). Standard library
only: it runs before Django is set up.
"""

from __future__ import annotations

import os
import secrets
import stat
import sys
from pathlib import Path


def default_path() -> Path:
    """``secret-key`` in the var directory the settings use (DASHBOARD_VAR_DIR, else the checkout's var/)."""
    var = os.environ.get("DASHBOARD_VAR_DIR") or str(Path(__file__).resolve().parent.parent / "var")
    return Path(var) / "secret-key"


class KeyFileUnsafe(Exception):
    """The key file exists but others may read it, or it is empty."""


def ensure_key_file(path: Path) -> Path:
    """``path``, created with a random key (mode 0600) unless it already exists; then reused as it is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two processes starting at once cannot both write (and one use a key the other overwrote).
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        check_key_file(path)
        return path
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(50) + "\n")
    return path


def check_key_file(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileUnsafe(f"{path} is readable by others (mode {stat.S_IMODE(mode):04o}): chmod 600 it")
    if not path.read_text().strip():
        raise KeyFileUnsafe(f"{path} is empty: delete it to have a new key made")


def existing_key(path: Path) -> str:
    """The key in ``path`` if that file exists (and is private), else ""."""
    if not path.exists():
        return ""
    check_key_file(path)
    return path.read_text().strip()


def use_default_key_file(path: Path | None = None) -> None:
    """Point DJANGO_SECRET_KEY_FILE at ``path`` (made if missing) unless a key is given already."""
    if os.environ.get("DJANGO_SECRET_KEY") or os.environ.get("DJANGO_SECRET_KEY_FILE"):
        return
    os.environ["DJANGO_SECRET_KEY_FILE"] = str(ensure_key_file(path or default_path()))


def main(argv: list[str]) -> int:
    """``python -m dashboard.secretkey [PATH]``: make the key file if needed and print its path."""
    try:
        print(ensure_key_file(Path(argv[0]) if argv else default_path()))
    except KeyFileUnsafe as exc:
        print(f"secret key: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
