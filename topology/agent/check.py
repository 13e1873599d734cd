"""``neutron-map-agent --check``: the settings, what this node lets the agent read, and the token.

The first command an operator runs on a node: it prints every setting with where it
came from, collects one report (namespaces, root iptables, OVSDB, OVN's settings in
the Open_vSwitch table), sends nothing, and asks the dashboard who the token belongs
to (``GET /api/v1/agents/whoami/``). Exit status 0 when nothing is wrong, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, TextIO

from topology.agent.collect import Collector, list_namespaces
from topology.agent.send import ReportRejected, SendFailed, Target, get_json, tls_context, whoami_url
from topology.agent.version import agent_version
from topology.report import REPORT_VERSION, Report

# Capabilities the agent uses (capability(7) numbers): the systemd unit grants exactly these.
CAPABILITIES = {
    1: ("CAP_DAC_OVERRIDE", "OVS sockets owned by another user (openvswitch)"),
    12: ("CAP_NET_ADMIN", "iptables-save, nf_tables change events"),
    13: ("CAP_NET_RAW", "iptables-legacy's socket, ping probes"),
    21: ("CAP_SYS_ADMIN", "setns() into the namespaces of /run/netns"),
}


def effective_capabilities(status: str) -> set[int]:
    """Capability numbers in the CapEff line of /proc/self/status."""
    for line in status.splitlines():
        if line.startswith("CapEff:"):
            mask = int(line.split()[1], 16)
            return {bit for bit in range(64) if mask >> bit & 1}
    return set()


class Check:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.problems: list[str] = []

    def say(self, text: str) -> None:
        self.out.write(text + "\n")

    def problem(self, text: str) -> None:
        self.problems.append(text)
        self.say(f"  PROBLEM: {text}")


def run_check(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    check = Check(out)
    check.say(f"neutron-map-agent {agent_version()} (report version {REPORT_VERSION})")
    _settings(check, args)
    _privileges(check)
    _node(check, args)
    _dashboard(check, args)
    if check.problems:
        check.say(f"check: {len(check.problems)} problem(s)")
        return 1
    check.say("check: OK")
    return 0


def _settings(check: Check, args: argparse.Namespace) -> None:
    check.say("settings:")
    for key, setting in args.settings.items():
        check.say(f"  {key} = {'' if setting.value is None else setting.value}  ({setting.source})")
    for warning in args.warnings:
        check.say(f"  warning: {warning}")
    if args.token:
        check.say(f"  token: {len(args.token)} characters ({args.token_source})")
    else:
        check.problem("no token: set token_file (manage.py agent_token HOST writes one) or NEUTRON_MAP_AGENT_TOKEN")
    if args.url.startswith("http://") and args.verify:
        check.say("  warning: the url is plain http: the token travels unencrypted")


def _privileges(check: Check) -> None:
    try:
        with open("/proc/self/status") as status:
            have = effective_capabilities(status.read())
    except OSError:
        return
    check.say(f"privileges: uid {os.geteuid()}")
    for bit, (name, why) in CAPABILITIES.items():
        check.say(f"  {name}: {'yes' if bit in have else 'NO'} ({why})")


def _node(check: Check, args: argparse.Namespace) -> None:
    check.say(f"this node (host {args.host}):")
    ovsdb = None if args.ovsdb == "none" else args.ovsdb
    try:
        collector = Collector(args.host, netns_dir=args.netns_dir, ovsdb=ovsdb, tunnel_ip=args.tunnel_ip)
    except OSError as exc:
        check.problem(f"cannot open this node's netlink: {exc}")
        return
    try:
        report = collector.collect()
        snapshot = collector.ovs.snapshot() if collector.ovs is not None and collector.ovs.connected else None
    finally:
        collector.close()
    _namespaces(check, args, report)
    _iptables(check, report)
    if ovsdb is None:
        check.say("  OVSDB: skipped (ovsdb = none)")
    elif snapshot is None:
        check.problem(f"OVSDB {ovsdb}: not readable: {_errors(report, 'ovsdb') or 'no connection'}")
    else:
        names = ", ".join(sorted(b["name"] for b in report["ovs"]["bridges"])) or "none"
        check.say(f"  OVSDB {ovsdb}: Open vSwitch {snapshot.ovs_version or '?'}, bridges: {names}")
        flows = report["ovs"]["flows"]
        check.say(f"  OpenFlow: {sum(len(v) for v in flows.values())} flows read on {len(flows)} bridge(s)")
        _ovn(check, snapshot.external_ids)
    check.say(f"  tunnel_ip: {report['tunnel_ip'] or 'none found'}")
    for error in report.get("errors", []):
        check.problem(error)


def _namespaces(check: Check, args: argparse.Namespace, report: Report) -> None:
    listed = list_namespaces(args.netns_dir)
    extra: dict[str, Any] = report  # type: ignore[assignment]
    skipped = extra.get("collection", {}).get("namespaces_skipped", [])
    check.say(f"  namespaces in {args.netns_dir}: {len(listed)} listed, {len(report['namespaces'])} read")
    if skipped:
        check.say(f"  namespaces gone while reading: {', '.join(skipped[:10])}")
    check.say(f"  root namespace: {len(report['interfaces'])} interfaces, {len(report.get('routes', []))} routes")


def _iptables(check: Check, report: Report) -> None:
    tables: dict[str, Any] = dict(report.get("iptables") or {})
    read = sorted(name for name, text in tables.items() if text)
    check.say(f"  iptables (root namespace): {', '.join(read) if read else 'no table read'}")


def _ovn(check: Check, external_ids: dict[str, str]) -> None:
    remote = external_ids.get("ovn-remote")
    if remote:
        encap = external_ids.get("ovn-encap-type", "?")
        check.say(f"  OVN: ovn-controller configured (Open_vSwitch external_ids: ovn-remote {remote}, encap {encap})")
    else:
        check.say("  OVN: not configured on this node (no ovn-remote in Open_vSwitch external_ids)")


def _errors(report: Report, word: str) -> str:
    return "; ".join(e for e in report.get("errors", []) if word.lower() in e.lower())


def _dashboard(check: Check, args: argparse.Namespace) -> None:
    url = whoami_url(args.url)
    check.say(f"dashboard {url}:")
    if not args.token:
        check.say("  not asked: no token")
        return
    try:
        context = tls_context(args.ca_file, args.verify)
    except OSError as exc:
        check.problem(f"CA bundle {args.ca_file}: {exc}")
        return
    try:
        answer = get_json(url, Target(url, args.token, timeout=args.timeout, ssl_context=context))
    except ReportRejected as exc:
        if exc.status == 401:
            check.problem(f"the dashboard does not know this token: {exc}")
        elif exc.status == 404:
            check.problem(f"no such endpoint (a dashboard older than this agent, or a wrong url): {exc}")
        else:
            check.problem(f"the dashboard refused: {exc}")
        return
    except SendFailed as exc:
        check.problem(f"cannot reach the dashboard: {exc}")
        return
    host = answer.get("host")
    check.say(f"  token accepted: it belongs to host {host!r}")
    if host != args.host:
        check.problem(f"the token is host {host!r}'s but this agent reports as {args.host!r}: reports would get 403")
    versions = answer.get("report_versions") or []
    if versions:
        check.say(f"  the dashboard accepts report versions {', '.join(str(v) for v in versions)}")
        if REPORT_VERSION not in versions:
            check.problem(f"this agent sends report version {REPORT_VERSION}: upgrade the dashboard first")
