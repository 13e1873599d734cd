"""A stored summary row's bytes: its counts as a small JSON header, each host node as JSON text beside them.

A collapsed view's first answer in a fresh process reads every part's summary row (10,000 at 10,000 hosts).
Were the host nodes stored as JSON objects inside the row, a reader would decode each node into dicts only
to encode it again into the response. So the writer stores each host node already serialized, split where
the counts go (``attrs.collapsed``), and a reader decodes only the counts and splices each node's text
around them (``collapsed.HostSummary.collapsed_json``): the same JSON, byte for byte, as the decoded node
with its counts encoded.

A row is ``header + b"\\n" + texts`` (orjson writes no raw newline): the header is orjson of
``{"format": 2, "hosts": [[host, [interfaces, namespaces, bridges, ports], warnings, quarantined,
node_id | null, stale, head_length, tail_length], ...], "links": [[a, b, count], ...], **extra}``;
``texts`` holds each drawn host's head then tail, in the order of ``hosts``. A row of another format
(written before migration 0010) is none to a reader: it then does what it does for a missing row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from topology import collapsed

FORMAT = 2
SEPARATOR = b"\n"
NAMES = tuple(collapsed.COUNTED.values())  # the order of the counts, as a HostSummary holds them
# where the counts go: a NUL byte, which orjson never writes itself (control characters are escaped)
PLACE = b"\x00"
Row = dict[str, Any]


def node_text(node: collapsed.Node) -> tuple[bytes, bytes]:
    """The node's JSON with ``attrs.collapsed`` set, cut around that value (``collapsed_node``'s key order)."""
    text = orjson.dumps({**node, "attrs": {**node["attrs"], "collapsed": orjson.Fragment(PLACE)}})
    head, _, tail = text.partition(PLACE)
    return head, tail


def host_entry(host: str, summary: collapsed.HostSummary, texts: list[bytes]) -> list[Any]:
    head, tail, node_id, stale = b"", b"", None, False
    if summary.node is not None:
        head, tail = node_text(summary.node)
        node_id, stale = summary.node["id"], collapsed.is_stale(summary.node)
    elif summary.text is not None:
        head, tail, node_id, stale = summary.text.head, summary.text.tail, summary.text.id, summary.text.stale
    texts += [head, tail]
    counts = [summary.counts[name] for name in NAMES]
    return [host, counts, summary.warnings, summary.quarantined, node_id, stale, len(head), len(tail)]


def encode(
    summaries: Mapping[str, collapsed.HostSummary], links: Mapping[collapsed.HostPair, int], **extra: Any
) -> bytes:
    texts: list[bytes] = []
    hosts = [host_entry(host, summary, texts) for host, summary in summaries.items()]
    header = {"format": FORMAT, "hosts": hosts, "links": [[a, b, n] for (a, b), n in links.items()], **extra}
    return orjson.dumps(header) + SEPARATOR + b"".join(texts)


def decode(raw: bytes) -> Row | None:
    """The row's header, with its texts under ``"texts"``; None: a row of another format."""
    header, separator, texts = raw.partition(SEPARATOR)
    if not separator:
        return None
    data: Row = orjson.loads(header)
    if data.get("format") != FORMAT:
        return None
    data["texts"] = texts
    return data


def hosts_of(row: Row) -> dict[str, collapsed.HostSummary]:
    found: dict[str, collapsed.HostSummary] = {}
    texts: bytes = row["texts"]
    at = 0
    for host, counts, warnings, quarantined, node_id, stale, head_length, tail_length in row["hosts"]:
        text = None
        if node_id is not None:
            middle = at + head_length
            end = middle + tail_length
            text = collapsed.NodeText(node_id, stale, texts[at:middle], texts[middle:end])
            at = end
        found[host] = collapsed.HostSummary(None, dict(zip(NAMES, counts, strict=True)), warnings, quarantined, text)
    return found


def links_of(row: Row) -> dict[collapsed.HostPair, int]:
    return {(a, b): n for a, b, n in row["links"]}
