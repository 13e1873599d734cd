"""The path explainer as a project member may use it (pure): nothing of another project gets out.

Two rules, both needed:

1. The endpoints are resolved in what the caller may see (``scope_graph``), and the walk is given
   those resolved endpoints, never their text: an address that is not the caller's stays
   "outside", so a tenant learns of it only what its own side shows (its router, its gateway),
   never whose VM, router or security groups are behind it.
2. Every string of the answer (hops' ``what``/``evidence``/``flows``, problems, ``src``/``dst``,
   the way back, errors) is scrubbed of the tokens that name other projects' objects: ids, the
   id prefixes devices are named by (``qvo`` + port id[:11], ``qrouter-`` + router id, ...),
   names, addresses and MACs. The walk runs in the whole graph (a router's gateway port, the fip
   namespace and br-ex are nobody's project yet carry a tenant's packets), so a hop may pass
   something of another project; (2) is what keeps its name out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from topology import graph as g
from topology.kinds import NodeKind
from topology.path import JsonDict, PathError, Probe, Topo, as_source, explain_endpoints, redact_path, resolve

HIDDEN = "<hidden>"
# Where an id or an id prefix may start: 8 hex digits not inside a longer hex word, except after
# the device prefixes that end in a hex letter ("qvb" + port id[:11]).
HEX_START = re.compile(r"(?=[0-9a-f]{8})")
HEX_WORD = frozenset("0123456789abcdef")
HEX_ENDED_PREFIXES = ("qvb",)
ID_PREFIXES = (36, 13, 11, 8)  # an id, DHCP/rfp/fpr names, device names, the label of an unnamed object
ADDRESS = re.compile(r"[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{0,4}){2,7}|\d{1,3}(?:\.\d{1,3}){3}")
WORD = re.compile(r"\w[\w.\-]*")


def object_tokens(node: Mapping[str, Any]) -> set[str]:
    """What names a logical object in text: its uuid and prefixes, name/label, addresses and MAC."""
    uuid = g.id_key(str(node["id"]))
    tokens = {*(uuid[:n] for n in ID_PREFIXES), str(node.get("label") or "")}
    attrs = node.get("attrs", {})
    tokens.add(str(attrs.get("name") or ""))
    tokens.add(str(attrs.get("mac_address") or "").lower())
    for key in ("floating_ip_address", "fixed_ip_address", "gateway_ip"):
        tokens.add(str(attrs.get(key) or ""))
    tokens.add(str(attrs.get("cidr") or "").split("/")[0])  # the network address is what text shows
    tokens.update(str(ip.get("ip_address") or "") for ip in attrs.get("fixed_ips") or [])
    tokens.discard("")
    return tokens


@dataclass(frozen=True)
class Secrets:
    """Tokens of objects the caller may not see, minus every token of something it may see
    (overlapping subnets: alt's 192.168.101.3 is not demo's secret when demo has one too)."""

    tokens: frozenset[str]
    phrases: tuple[str, ...]  # names with spaces or punctuation: matched as substrings

    @classmethod
    def of(cls, nodes: Iterable[Mapping[str, Any]], visible: set[str]) -> Secrets:
        hidden: set[str] = set()
        allowed: set[str] = set()
        for node in nodes:
            if node["kind"] not in NodeKind.LOGICAL:
                continue  # devices are named after their ports and routers: caught by the id prefixes
            (allowed if node["id"] in visible else hidden).update(object_tokens(node))
        tokens = hidden - allowed
        phrases = tuple(sorted(t for t in tokens if not WORD.fullmatch(t) and not ADDRESS.fullmatch(t)))
        return cls(frozenset(tokens), phrases)

    def scrub(self, text: str) -> str:
        if not text:
            return text
        low = text.lower()
        spans: list[tuple[int, int]] = []
        for match in HEX_START.finditer(low):
            at = match.start()
            if at and low[at - 1] in HEX_WORD and not low[:at].endswith(HEX_ENDED_PREFIXES):
                continue
            size = next((n for n in ID_PREFIXES if low[at : at + n] in self.tokens), 0)
            if size:
                spans.append((at, at + size))
        for pattern in (ADDRESS, WORD):
            spans += [
                (m.start(), m.end())
                for m in pattern.finditer(text)
                if m.group(0) in self.tokens or m.group(0).lower() in self.tokens
            ]
        for phrase in self.phrases:
            at = text.find(phrase)
            while at >= 0:
                spans.append((at, at + len(phrase)))
                at = text.find(phrase, at + 1)
        return cut(text, spans)

    def scrub_all(self, value: Any) -> Any:
        """Every string in a JSON value, scrubbed (keys are the explainer's own words)."""
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, list):
            return [self.scrub_all(v) for v in value]
        if isinstance(value, dict):
            return {k: self.scrub_all(v) for k, v in value.items()}
        return value


def cut(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each (merged) span replaced by HIDDEN."""
    if not spans:
        return text
    out, at = [], 0
    for start, end in sorted(spans):
        if end <= at:
            continue
        start = max(start, at)
        out.append(text[at:start])
        out.append(HIDDEN)
        at = end
    out.append(text[at:])
    return "".join(out)


def explain_for_project(
    topo: Topo, visible: Mapping[str, list[Any]], secrets: Secrets, src: str, dst: str, probe: str = "icmp"
) -> JsonDict:
    """The explainer's answer for a project member who may see ``visible`` (``scope_graph``'s).

    Raises PathError with a scrubbed message for an endpoint the caller may not name.
    """
    try:
        parsed = Probe.parse(probe)
        own = Topo(visible, {})
        source = as_source(own, resolve(own, src))
        target = resolve(own, dst, near=source)
        result = explain_endpoints(topo, source, target, parsed)
    except PathError as exc:
        raise PathError(secrets.scrub(str(exc))) from None
    redacted = redact_path(result, {n["id"] for n in visible.get("nodes", [])})
    scrubbed: JsonDict = secrets.scrub_all(redacted)
    return scrubbed
