"""``neutron-map-agent`` (or ``python -m topology.agent``): report this node's networking to the dashboard.

Settings come from /etc/neutron-map/agent.conf, the environment and the command line
(topology/agent/config.py); ``--check`` tells what the agent can read here and whether the
dashboard takes its token. Examples::

    neutron-map-agent --check
    neutron-map-agent --once --print --host controller
    NEUTRON_MAP_AGENT_TOKEN=... neutron-map-agent --host compute1 --url https://dash.example.org/api/v1/agents/report/
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from topology.agent import config
from topology.agent.channel import ProbeChannel, channel_url
from topology.agent.collect import Collector
from topology.agent.send import ReportRejected, SendFailed, Target, post_report, tls_context
from topology.agent.version import agent_version
from topology.agent.watch import Sink, Watcher
from topology.agent.wsclient import WebSocket
from topology.report import REPORT_VERSION, Report

LOG = logging.getLogger("topology.agent")
TOKEN_ENV = "TOPOLOGY_AGENT_TOKEN"


def _prog() -> str:
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return "python -m topology.agent" if name in ("", "__main__.py", "-c") else name


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=_prog(),
        description="Collect this node's namespaces, links, routes, rules, iptables, OVS bridges and flows "
        "and POST them to the dashboard (docs/design.md: agent report, version 1). Settings: --config file "
        f"([agent] section, default {config.DEFAULT_CONFIG}), then env {config.ENV_PREFIX}<SETTING>, then options.",
    )
    parser.add_argument("--config", type=Path, help=f"configuration file (env {config.CONFIG_ENV})")
    parser.add_argument("--check", action="store_true", help="check the settings, this node and the token; exit")
    parser.add_argument("--version", action="version", version=f"%(prog)s {agent_version()} (report {REPORT_VERSION})")
    parser.add_argument("--url", help=f"report endpoint (default: {config.BY_KEY['url'].default})")
    tokens = parser.add_mutually_exclusive_group()
    tokens.add_argument("--token", help=f"this host's report token (or --token-file, or env {TOKEN_ENV})")
    tokens.add_argument("--token-file", type=Path, help="file holding the token (first line)")
    parser.add_argument("--host", help="host name to report as (default: Neutron's `host`, else the hostname)")
    parser.add_argument("--once", action="store_true", help="collect and send one report, then exit")
    parser.add_argument(
        "--print", dest="print_only", action="store_true", help="print the report JSON to stdout instead of sending it"
    )
    parser.add_argument("--interval", type=float, help="seconds between full resyncs (default: 60)")
    parser.add_argument("--debounce", type=float, help="seconds of quiet after a change before reporting (0.5)")
    parser.add_argument("--rejected-hold", type=float, help="seconds after a refused report, doubling (default: 30)")
    parser.add_argument("--netns-dir", type=Path, help="default: /run/netns")
    ovsdb_default = config.BY_KEY["ovsdb"].default
    parser.add_argument("--ovsdb", help=f"OVSDB remote, or 'none' to skip OVS (default: {ovsdb_default})")
    parser.add_argument("--tunnel-ip", help="tunnel endpoint address to report (default: from OVS tunnel ports)")
    parser.add_argument("--gzip", action="store_const", const=True, help="send the report gzip-compressed")
    parser.add_argument("--timeout", type=float, help="HTTP timeout in seconds (default: 30)")
    parser.add_argument("--ca-file", type=Path, help="CA bundle for the dashboard's certificate (default: system CAs)")
    parser.add_argument(
        "--no-verify", dest="verify", action="store_const", const=False, help="do not verify TLS certificates (labs)"
    )
    parser.add_argument("--channel-url", help="probe channel websocket (default: ws(s)://<host of --url>/ws/agents/)")
    parser.add_argument(
        "--no-channel",
        dest="channel",
        action="store_const",
        const=False,
        help="do not open the probe channel (no read-only probes on request)",
    )
    parser.add_argument(
        "--active-probes",
        action="store_const",
        const=True,
        help="send one real ping when an admin asks for an active check (default: off)",
    )
    parser.add_argument("--ovn-sb-db", help="OVN southbound for ovn_trace probes (default: this chassis's ovn-remote)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    return parser


def parse_args(argv: Sequence[str] | None = None, env: dict[str, str] | None = None) -> argparse.Namespace:
    """The command line merged with the file and the environment: every setting as an attribute.

    ``args.settings`` keeps where each came from, ``args.token``/``args.token_source`` the token,
    ``args.warnings`` what the file had that this agent does not know.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    env = config.environment() if env is None else env
    path, required = config.config_path(args.config, env)
    try:
        file_values, args.warnings = config.read_file(path, required)
        cli = {option.key: getattr(args, option.key, None) for option in config.OPTIONS}
        args.settings = config.resolve(cli, env, file_values, str(path))
        for key, setting in args.settings.items():
            setattr(args, key, setting.value)
        args.token, args.token_source = config.token_from(args.token, args.settings["token_file"], env)
    except config.ConfigError as exc:
        parser.error(str(exc))
    if not args.print_only and not args.check and not args.token:
        parser.error(
            f"a token is needed to send reports: --token, --token-file (token_file in {path}) or env {TOKEN_ENV}"
        )
    return args


def resolve_token(args: argparse.Namespace) -> str:
    return str(args.token)


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
    for warning in args.warnings:
        LOG.warning("%s", warning)
    if args.check:
        from topology.agent.check import run_check

        return run_check(args)
    collector = Collector(
        args.host,
        netns_dir=args.netns_dir,
        ovsdb=None if args.ovsdb == "none" else args.ovsdb,
        tunnel_ip=args.tunnel_ip,
    )
    context = tls_context(args.ca_file, args.verify)
    target = Target(url=args.url, token=resolve_token(args), gzip=args.gzip, timeout=args.timeout, ssl_context=context)
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
        watcher = Watcher(
            collector, sink, interval=args.interval, debounce=args.debounce, rejected_hold=args.rejected_hold
        )
        channel = None
        if not args.print_only and args.channel:
            connect = functools.partial(WebSocket.connect, ssl_context=context)
            channel = ProbeChannel(
                args.channel_url or channel_url(args.url),
                target.token,
                connect=connect,
                active=args.active_probes,
                ovn_sb_db=args.ovn_sb_db,
            ).start()
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
