"""What a host report holds by name (namespaces, interfaces, bridges): the history's change summary.

``store_report`` keeps the name sets of the report it stores in ``HostReport.inventory``
(JSON text, with the digest of the report they were read from), so that the next report's
change summary (``HostReportChange``) compares name sets instead of decoding the previous
report (about 24 kB per host at 20 ports). An inventory is trusted only with the digest of its
row's report: a row written without a digest (by hand, by a test, before migration 0007) has its
report read again, as before.
"""

from __future__ import annotations

from typing import Any

import orjson

Inventory = dict[str, list[str]]  # section -> sorted names
SECTIONS = ("namespaces", "interfaces", "bridges")


def report_inventory(report: dict[str, Any] | None) -> Inventory:
    """The names of ``report``'s namespaces, interfaces (``ns/name`` inside a namespace) and OVS bridges."""
    report = report or {}
    namespaces = report.get("namespaces") or []
    interfaces = {i["name"] for i in report.get("interfaces") or []}
    interfaces.update(f"{ns['name']}/{i['name']}" for ns in namespaces for i in ns.get("interfaces") or [])
    return {
        "namespaces": sorted({ns["name"] for ns in namespaces}),
        "interfaces": sorted(interfaces),
        "bridges": sorted({b["name"] for b in (report.get("ovs") or {}).get("bridges") or []}),
    }


def encode_inventory(inventory: Inventory, digest: str) -> str:
    """The column's text: the inventory and the (hex) digest of the report it was read from."""
    return orjson.dumps({"digest": digest, **inventory}).decode()


def decode_inventory(text: str, digest: str) -> Inventory | None:
    """The stored inventory if it was read from the report of digest ``digest``; None if unknown."""
    if not text or not digest:
        return None
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or data.get("digest") != digest:
        return None
    inventory: Inventory = {}
    for section in SECTIONS:
        names = data.get(section)
        if not isinstance(names, list):
            return None
        inventory[section] = names
    return inventory


def inventory_change(before: Inventory | None, after: Inventory) -> dict[str, dict[str, list[str]]]:
    """Names that appeared or went away, per section (``before`` None: no previous report)."""
    summary: dict[str, dict[str, list[str]]] = {}
    for section in SECTIONS:
        old = before[section] if before is not None else []
        new = after[section]
        if old == new:
            summary[section] = {"added": [], "removed": []}
            continue
        old_set, new_set = set(old), set(new)
        summary[section] = {"added": sorted(new_set - old_set), "removed": sorted(old_set - new_set)}
    return summary


def changed(summary: dict[str, dict[str, list[str]]]) -> bool:
    return any(change["added"] or change["removed"] for change in summary.values())
