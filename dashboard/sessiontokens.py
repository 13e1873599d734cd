"""What a browser session keeps of Keystone besides who the caller is: sealed, never in clear.

The session row (in the database) holds the caller's identity in clear, and its
scoped token, the unscoped token (to switch project without asking for the
password again) and the scoped token's body (its catalog) sealed with a key
derived from SECRET_KEY: a database backup alone lets nobody act as the user.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from django.contrib.sessions.backends.base import SessionBase

from dashboard.sealing import open_json, seal_json

log = logging.getLogger(__name__)
SEALED_KEY = "keystone_sealed"
PURPOSE = "dashboard.session.keystone"


@dataclass(frozen=True)
class KeystoneSecrets:
    token: str  # scoped to the session's project
    unscoped: str  # rescoped on a project switch
    body: dict[str, Any]  # the scoped token's body, with the catalog user connections need


def keep(session: SessionBase, secrets: KeystoneSecrets) -> None:
    session[SEALED_KEY] = seal_json(PURPOSE, asdict(secrets))


def kept(session: SessionBase) -> KeystoneSecrets | None:
    """The session's secrets; None when it has none. Raises SealBroken if they cannot be opened."""
    sealed = session.get(SEALED_KEY)
    if not sealed:
        return None
    return KeystoneSecrets(**open_json(PURPOSE, sealed))


def token_body(session: SessionBase) -> dict[str, Any] | None:
    secrets = kept(session)
    return secrets.body if secrets else None
