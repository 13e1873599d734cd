"""OVSDB values as plain Python: what the IDL's rows hold, made JSON-able.

In the Python IDL an optional column (min 0, max 1) reads as a list of zero or one value, a
reference as a Row (``.uuid``), a set as a list, a map as a dict. A column the server's schema does
not have (an older OVN) was never registered and reads as the given default.
"""

from __future__ import annotations

from typing import Any


def column(row: Any, name: str, default: Any = None) -> Any:
    """The column's raw value, or ``default`` when this schema has no such column."""
    try:
        return getattr(row, name)
    except AttributeError:
        return default


def uuid(row: Any) -> str:
    return str(row.uuid)


def optional(row: Any, name: str) -> Any:
    """An optional scalar (``[]`` or ``[value]``) as the value or None."""
    value = column(row, name)
    if isinstance(value, list):
        return plain(value[0]) if value else None
    return plain(value)


def text(row: Any, name: str) -> str:
    value = column(row, name, "")
    return str(value) if value is not None else ""


def integer(row: Any, name: str) -> int | None:
    value = optional(row, name)
    return int(value) if value is not None else None


def mapping(row: Any, name: str) -> dict[str, str]:
    value = column(row, name, {})
    return {str(k): str(v) for k, v in dict(value or {}).items()}


def strings(row: Any, name: str) -> list[str]:
    """A set of strings, sorted (OVSDB sets have no order)."""
    return sorted(str(v) for v in (column(row, name, []) or []))


def refs(row: Any, name: str) -> list[Any]:
    """The rows a reference column points at (a set, or an optional reference)."""
    value = column(row, name, [])
    if value is None:
        return []
    if isinstance(value, list | tuple | set | frozenset):
        return list(value)
    return [value]


def ref_uuids(row: Any, name: str) -> list[str]:
    return sorted(uuid(r) for r in refs(row, name))


def ref_names(row: Any, name: str, key: str = "name") -> list[str]:
    return sorted(str(column(r, key, "")) for r in refs(row, name))


def ref_name(row: Any, name: str, key: str = "name") -> str | None:
    """The ``key`` of the single row an optional reference points at, or None."""
    targets = refs(row, name)
    return str(column(targets[0], key, "")) if targets else None


def plain(value: Any) -> Any:
    """Any IDL value as JSON-able Python (Rows become their uuid)."""
    if hasattr(value, "uuid") and hasattr(value, "_table"):
        return str(value.uuid)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)  # uuid.UUID and anything else
