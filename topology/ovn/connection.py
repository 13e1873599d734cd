"""Connect to an OVN database with ovsdbapp, with a deadline, monitoring only the columns we read.

ovsdbapp's ``idlutils.get_schema_helper`` blocks without a timeout (``Stream.open_block`` and
``transact_block``) and ``Connection.start`` waits up to its own timeout only for the first dump, so
the whole connect runs in a daemon thread that the caller waits on for ``timeout`` seconds: an
address that never answers gives ``OvnUnavailable`` in time, never a hang.

ovsdbapp keeps its connection on the API *class* (``Backend._ovsdb_connection``: the first one set
wins for every later instance), so each read makes its own subclass: two clouds, or a reconnect,
never read a stale database.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ovsdbapp.backend.ovs_idl import connection, idlutils
from ovsdbapp.schema.ovn_northbound.impl_idl import OvnNbApiIdlImpl
from ovsdbapp.schema.ovn_southbound.impl_idl import OvnSbApiIdlImpl

NB_SCHEMA = "OVN_Northbound"
SB_SCHEMA = "OVN_Southbound"
DEFAULT_TIMEOUT = 10.0

Columns = Mapping[str, tuple[str, ...]]


class OvnUnavailable(Exception):
    """An OVN database cannot be reached or read within the timeout."""


@dataclass
class OvnDb:
    """A connected database: the ovsdbapp API, its connection, and the columns the server has."""

    remote: str
    schema: str
    api: Any
    conn: connection.Connection
    present: dict[str, frozenset[str]]

    def tables(self) -> dict[str, Any]:
        return self.api.tables

    def close(self) -> None:
        self.conn.stop(timeout=5)


def _api_class(schema: str) -> type:
    base = OvnNbApiIdlImpl if schema == NB_SCHEMA else OvnSbApiIdlImpl
    # A fresh class per connection: see the module docstring.
    return type(f"{base.__name__}ForRead", (base,), {"_ovsdb_connection": None})


def _register(helper: Any, wanted: Columns) -> dict[str, frozenset[str]]:
    """Register the wanted columns the server's schema has; tables it lacks are skipped."""
    tables = helper.schema_json["tables"]
    present: dict[str, frozenset[str]] = {}
    for table, columns in wanted.items():
        if table not in tables:
            continue
        have = [c for c in columns if c in tables[table]["columns"]]
        helper.register_columns(table, have)
        present[table] = frozenset(have)
    return present


def _connect_blocking(remote: str, schema: str, wanted: Columns, timeout: float) -> OvnDb:
    helper = idlutils.get_schema_helper(remote, schema)
    present = _register(helper, wanted)
    idl = connection.OvsdbIdl(remote, helper)
    conn = connection.Connection(idl, timeout=max(1, int(timeout)))
    # auto_index=False: the reader only scans tables, and indexes need every column registered.
    api = _api_class(schema)(conn, auto_index=False)
    return OvnDb(remote=remote, schema=schema, api=api, conn=conn, present=present)


def connect(remote: str, schema: str, wanted: Columns, timeout: float = DEFAULT_TIMEOUT) -> OvnDb:
    """Connect to ``remote`` (``tcp:ip:port``, ``ssl:...``, ``unix:path``, comma-separated) and load ``wanted``.

    Raises ``OvnUnavailable`` naming the remote when it cannot within ``timeout`` seconds.
    """
    result: dict[str, Any] = {}
    lock = threading.Lock()

    def run() -> None:
        try:
            db = _connect_blocking(remote, schema, wanted, timeout)
        except BaseException as exc:  # ovsdbapp raises bare Exception and TimeoutException
            result["error"] = exc
            return
        with lock:
            if result.get("abandoned"):
                db.close()  # connected after the caller gave up: leave no IDL thread behind
            else:
                result["db"] = db

    worker = threading.Thread(target=run, name=f"ovn-connect {remote}", daemon=True)
    worker.start()
    worker.join(timeout)
    with lock:
        if "db" not in result and "error" not in result:
            result["abandoned"] = True
    if result.get("abandoned"):
        raise OvnUnavailable(f"{schema} at {remote}: no answer within {timeout:g} s")
    if "error" in result:
        exc = result["error"]
        raise OvnUnavailable(f"{schema} at {remote}: {exc or type(exc).__name__}") from exc
    db: OvnDb = result["db"]
    return db
