"""The node agent's report (docs/design.md "Agent report (contract, version 1)").

Pure Python, no Django import: the agent builds reports with these shapes on
compute/network nodes and the server's ingest view validates what it
receives with :func:`validate_report` before touching any stored state.

Unknown fields are kept, never rejected (within the bounds of
topology/report_bounds.py: depth, JSON kinds, total size), so an agent may send more than the
contract (the agent also sends the root namespace's ``routes``, ``rules``
and ``iptables``, per-interface ``ifindex``, per-route ``family``/``type``...;
see the TypedDicts below). Validation only checks what the join and the path
explainer rely on.
"""

from __future__ import annotations

from topology.report.contract import (
    ACCEPTED_VERSIONS,
    MAX_NAME_LENGTH,
    MAX_REASONS,
    MAX_REPORT_BYTES,
    REPORT_VERSION,
    Interface,
    Iptables,
    Namespace,
    Ovs,
    OvsBridge,
    OvsInterface,
    OvsPort,
    Process,
    Report,
    Route,
    Rule,
)
from topology.report.validate import validate_report

__all__ = [
    "ACCEPTED_VERSIONS",
    "MAX_NAME_LENGTH",
    "MAX_REASONS",
    "MAX_REPORT_BYTES",
    "REPORT_VERSION",
    "Interface",
    "Iptables",
    "Namespace",
    "Ovs",
    "OvsBridge",
    "OvsInterface",
    "OvsPort",
    "Process",
    "Report",
    "Route",
    "Rule",
    "validate_report",
]
