"""``python -m topology.agent``: report this node's networking to the dashboard.

Examples::

    python -m topology.agent --once --print --host controller
    TOPOLOGY_AGENT_TOKEN=... python -m topology.agent --host compute1 --url https://dash.example.org/api/v1/agents/report/
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from topology.agent.channel import ProbeChannel, channel_url
from topology.agent.collect import DEFAULT_NETNS_DIR, Collector
from topology.agent.ovs import DEFAULT_REMOTE
from topology.agent.send import DEFAULT_URL, ReportRejected, SendFailed, Target, post_report
from topology.agent.watch import Sink, Watcher
from topology.report import Report

LOG = logging.getLogger("topology.agent")
TOKEN_ENV = "TOPOLOGY_AGENT_TOKEN"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m topology.agent",
        description="Collect this node's namespaces, links, routes, rules, iptables, OVS bridges and flows "
        "and POST them to the dashboard (docs/design.md: agent report, version 1).",
    )
    parser.add_argument("--url", default=DEFAULT_URL, help="report endpoint (default: %(default)s)")
    tokens = parser.add_mutually_exclusive_group()
    tokens.add_argument("--token", help=f"this host's report token (or --token-file, or env {TOKEN_ENV})")
    tokens.add_argument("--token-file", type=Path, help="file holding the token (first line)")
    parser.add_argument("--host", default=socket.gethostname(), help="host name to report as (default: %(default)s)")
    parser.add_argument("--once", action="store_true", help="collect and send one report, then exit")
    parser.add_argument(
        "--print", dest="print_only", action="store_true", help="print the report JSON to stdout instead of sending it"
    )
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between full resyncs (default: 60)")
    parser.add_argument(
        "--debounce", type=float, default=0.5, help="seconds of quiet after a change before reporting (default: 0.5)"
    )
    parser.add_argument("--netns-dir", type=Path, default=DEFAULT_NETNS_DIR, help="default: %(default)s")
    parser.add_argument(
        "--ovsdb", default=DEFAULT_REMOTE, help="OVSDB remote, or 'none' to skip OVS (default: %(default)s)"
    )
    parser.add_argument("--tunnel-ip", help="tunnel endpoint address to report (default: from OVS tunnel ports)")
    parser.add_argument("--gzip", action="store_true", help="send the report gzip-compressed")
    parser.add_argument("--timeout", type=float, default=30.0, help="HTTP timeout in seconds (default: 30)")
    parser.add_argument("--channel-url", help="probe channel websocket (default: ws(s)://<host of --url>/ws/agents/)")
    parser.add_argument(
        "--no-channel", action="store_true", help="do not open the probe channel (no read-only probes on request)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    args = parser.parse_args(argv)
    if args.interval <= 0 or args.debounce < 0:
        parser.error("--interval must be > 0 and --debounce >= 0")
    if not args.print_only and not resolve_token(args):
        parser.error(f"a token is needed to send reports: --token, --token-file or env {TOKEN_ENV}")
    return args


def resolve_token(args: argparse.Namespace) -> str:
    if args.token:
        return str(args.token)
    if args.token_file:
        lines = args.token_file.read_text().strip().splitlines()
        return lines[0].strip() if lines else ""
    return os.environ.get(TOKEN_ENV, "").strip()


def print_report(report: Report, trigger: str) -> None:
    # One report per line when watching (JSON lines), readable with --once.
    if trigger == "once":
        json.dump(report, sys.stdout, indent=1)
    else:
        json.dump(report, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")
    sys.stdout.flush()


def make_sender(target: Target, attempts: int) -> Sink:
    def send(report: Report, trigger: str) -> None:
        answer = post_report(dict(report), target, attempts=attempts)
        extra: dict[str, Any] = dict(report)
        collection = extra.get("collection") or {}
        LOG.info(
            "report sent (%s): %d namespaces, %d root interfaces, %d bridges, collected in %s ms; revision %s",
            trigger,
            len(report["namespaces"]),
            len(report["interfaces"]),
            len(report["ovs"]["bridges"]),
            collection.get("duration_ms"),
            answer.get("revision"),
        )

    return send


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # python-ovs logs every reconnection attempt at INFO: keep ours readable.
    logging.getLogger("ovsdbapp").setLevel(logging.WARNING)
    collector = Collector(
        args.host,
        netns_dir=args.netns_dir,
        ovsdb=None if args.ovsdb == "none" else args.ovsdb,
        tunnel_ip=args.tunnel_ip,
    )
    target = Target(url=args.url, token=resolve_token(args), gzip=args.gzip, timeout=args.timeout)
    # Watching, one attempt per send: the watcher sends an undelivered report again itself,
    # with backoff, until it gets through (topology/agent/delivery.py).
    sink = print_report if args.print_only else make_sender(target, attempts=5 if args.once else 1)
    try:
        if args.once:
            report = collector.collect()
            for error in report.get("errors", []):
                LOG.warning("%s", error)
            sink(report, "once")
            return 0
        watcher = Watcher(collector, sink, interval=args.interval, debounce=args.debounce)
        channel = None
        if not args.print_only and not args.no_channel:
            channel = ProbeChannel(args.channel_url or channel_url(args.url), target.token).start()
        try:
            watcher.run()
        finally:
            if channel is not None:
                channel.stop()
            watcher.close()
        return 0
    except ReportRejected as exc:
        LOG.error("the dashboard rejected the report: %s", exc)
        return 2
    except SendFailed as exc:
        LOG.error("could not send the report: %s", exc)
        return 3
    except BrokenPipeError:  # `--print | head`: the reader has gone, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        collector.close()


if __name__ == "__main__":
    sys.exit(main())
