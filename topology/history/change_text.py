"""What one change to a path's hop says, in words (pure): a port DOWN, a gateway cleared, a rule removed, ...

Used by topology.history.changes for ``since.changes[].change`` and the path panel's line
(``since.headline``: "broken since 10:42 UTC: router1's gateway cleared (job 17 by demo)").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from topology import graph as g
from topology.kinds import SECGROUP_RULE_MATCH
from topology.path.model import JsonDict

# Attributes the explainer never reads (topology/path/): a host's report time changes with every
# report, so a revision that changes only these on a path's hops is not a change to the path.
QUIET = frozenset({"collected_at"})
HEADLINE_CHANGES = 3  # changes named in the headline; the rest are counted


def label(node: g.Node | None, node_id: str) -> str:
    kind = g.id_kind(node_id)
    name = str(node["label"]) if node else g.id_key(node_id)[:8]
    return f"{kind} {name}" if kind not in ("router", "secgroup") else name


def describe(old: g.Node | None, new: g.Node | None, node_id: str) -> list[str]:
    """Sentences for one node's change: a port DOWN, a gateway cleared, a rule removed, an agent dead, ..."""
    if old is None and new is None:
        return []
    if old is None:
        return [f"{label(new, node_id)} added"]
    if new is None:
        return [f"{label(old, node_id)} removed"]
    name = label(new, node_id)
    before, after = old.get("attrs", {}), new.get("attrs", {})
    texts: list[str] = []
    if old.get("status") != new.get("status"):
        texts.append(status_text(name, old.get("status"), new.get("status")))
    if before.get("gateway_network_id") and not after.get("gateway_network_id"):
        texts.append(f"{name}'s gateway cleared")
    elif after.get("gateway_network_id") and not before.get("gateway_network_id"):
        texts.append(f"{name}'s gateway set")
    if g.id_kind(node_id) == "fip" and before.get("port_id") != after.get("port_id"):
        texts.append(fip_text(before, after))
    if "rules" in before or "rules" in after:
        texts += rule_texts(name, before.get("rules") or [], after.get("rules") or [])
    if "agents" in before or "agents" in after:
        texts += agent_texts(str(new.get("label")), before.get("agents") or [], after.get("agents") or [])
    if before.get("admin_state_up") != after.get("admin_state_up") and "admin_state_up" in after:
        texts.append(f"{name} set admin {'up' if after['admin_state_up'] else 'down'}")
    if not texts and quiet(old) != quiet(new):
        keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k) and k not in QUIET)
        texts.append(f"{name} changed ({', '.join(keys) or 'placement'})")
    return texts


def fip_text(before: JsonDict, after: JsonDict) -> str:
    """ "floating IP 192.168.1.20 associated with 10.0.0.7 (was 10.0.0.5)", or disassociated."""
    address = after.get("floating_ip_address") or before.get("floating_ip_address")
    if not after.get("port_id"):
        return f"floating IP {address} disassociated (was {before.get('fixed_ip_address')})"
    was = f" (was {before['fixed_ip_address']})" if before.get("port_id") and before.get("fixed_ip_address") else ""
    return f"floating IP {address} associated with {after.get('fixed_ip_address')}{was}"


def quiet(node: g.Node) -> g.Node:
    """A node without the attributes no walk reads (:data:`QUIET`)."""
    attrs = node.get("attrs") or {}
    return {**node, "attrs": {k: v for k, v in attrs.items() if k not in QUIET}}


def status_text(name: str, old: Any, new: Any) -> str:
    if new == "STALE":
        return f"no fresh report from {name}"
    if old == "STALE":
        return f"{name} reporting again"
    return f"{name} went {new or 'without status'} (was {old or 'none'})"


def rule_key(rule: JsonDict) -> tuple[Any, ...]:
    return tuple(rule.get(k) for k in SECGROUP_RULE_MATCH)


def rule_text(rule: JsonDict) -> str:
    ports = f" {rule['port_range_min']}" if rule.get("port_range_min") is not None else ""
    remote = rule.get("remote_ip_prefix") or rule.get("remote_group_id") or "any"
    return f"{rule.get('direction')} {rule.get('protocol') or 'any'}{ports} from {remote}"


def rule_texts(name: str, old: list[JsonDict], new: list[JsonDict]) -> list[str]:
    before, after = {rule_key(r): r for r in old}, {rule_key(r): r for r in new}
    return [f"security group {name}: rule {rule_text(r)} removed" for k, r in before.items() if k not in after] + [
        f"security group {name}: rule {rule_text(r)} added" for k, r in after.items() if k not in before
    ]


def agent_texts(host: str, old: list[JsonDict], new: list[JsonDict]) -> list[str]:
    was = {a.get("agent_type"): a.get("alive") for a in old}
    texts = []
    for agent in new:
        kind, alive = agent.get("agent_type"), agent.get("alive")
        if was.get(kind) and not alive:
            texts.append(f"the {kind} on {host} died")
        elif kind in was and not was[kind] and alive:
            texts.append(f"the {kind} on {host} is alive again")
    return texts


PHYSICAL = ("host", "netns", "bridge", "iface")


def telling(change: JsonDict) -> tuple[bool, bool]:
    """The headline's order: changes naming a state first (not ``... changed (attrs)``), the cloud's objects first."""
    text = str(change["change"])
    return " changed (" in text and text.endswith(")"), g.id_kind(str(change["node"])) in PHYSICAL


def jobs_of(change: JsonDict) -> set[Any]:
    return {c.get("job") for c in change.get("causes", []) if c.get("kind") == "job"}


def what_broke(changes: list[JsonDict], revision: int) -> list[JsonDict]:
    """The changes at ``revision`` and the later ones of the same job: a job's effect comes in pieces
    (the agent's report of the qg- gone, then the cloud refresh of the router without its gateway)."""
    first = [c for c in changes if c["revision"] == revision]
    jobs = set().union(*(jobs_of(c) for c in first)) if first else set()
    return first + [c for c in reversed(changes) if c["revision"] > revision and jobs_of(c) & jobs]


def clock(iso: str) -> str:
    return f"{datetime.fromisoformat(iso):%H:%M} UTC"


def headline(since: JsonDict) -> str:
    """ "broken since 10:42 UTC: router1's gateway cleared (job 17 by demo)" (text, for the path panel)."""
    verdict, at = since.get("verdict"), since.get("verdict_since")
    if since.get("note"):
        return f"{verdict}: {since['note']}"
    standing = in_force_text(since.get("in_force") or [])
    if not at:
        line = f"{verdict} for as long as the history goes back" if verdict else "no history of this path"
        return line + (f"; {standing}" if standing else "")
    first = sorted(what_broke(since["changes"], at["revision"]), key=telling)
    named = "; ".join(f"{c['change']} ({c['cause']})" for c in first[:HEADLINE_CHANGES])
    if len(first) > HEADLINE_CHANGES:
        named += f"; and {len(first) - HEADLINE_CHANGES} more"
    line = f"{verdict} since {clock(at['at'])}: {named or 'no change on its hops recorded'}"
    return line + (f"; {standing}" if standing else "")


def in_force_text(conditions: list[JsonDict]) -> str:
    """ "in force since 10:30 UTC: the L3 agent on controller dead (cloud refresh)" for each condition."""
    texts = []
    for c in conditions[:HEADLINE_CHANGES]:
        if c.get("in_force_since"):
            texts.append(f"in force since {clock(c['in_force_since'])}: {c['condition']} ({c['cause']})")
        else:
            texts.append(f"in force since before the history kept: {c['condition']}")
    return "; ".join(texts)
