"""OVN's NB and SB in the cloud snapshot: ``ovn: {nb, sb, errors}`` (docs/design.md, "OVN").

Each database is read once per refresh with the reader's deadline; one that cannot be reached is
``None`` with its error said in ``errors`` (the rest of the refresh goes on, never a hang).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from topology.ovn.connection import DEFAULT_TIMEOUT, OvnUnavailable
from topology.ovn.northbound import read_northbound
from topology.ovn.southbound import read_southbound

Reader = Callable[[str, float], dict[str, Any]]


@dataclass(frozen=True)
class OvnRemotes:
    """``OVN_NB_CONNECTION`` / ``OVN_SB_CONNECTION``; both empty: not an OVN cloud (nothing read)."""

    nb: str = ""
    sb: str = ""
    timeout: float = DEFAULT_TIMEOUT

    @property
    def configured(self) -> bool:
        return bool(self.nb or self.sb)


def read_one(reader: Reader, remote: str, timeout: float, errors: list[str]) -> dict[str, Any] | None:
    """One database, or None with its error appended (an unset remote is neither read nor an error)."""
    if not remote:
        return None
    try:
        return reader(remote, timeout)
    except OvnUnavailable as exc:
        errors.append(str(exc))
        return None


def collect_ovn(remotes: OvnRemotes) -> dict[str, Any]:
    """``{"nb": ..., "sb": ..., "errors": [...]}``: what the snapshot keeps under ``ovn``."""
    errors: list[str] = []
    nb = read_one(read_northbound, remotes.nb, remotes.timeout, errors)
    sb = read_one(read_southbound, remotes.sb, remotes.timeout, errors)
    return {"nb": nb, "sb": sb, "errors": errors}
