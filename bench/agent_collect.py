"""Benchmark of the node agent's collection on a host with 1,000 namespaces.

    .venv/bin/python -m bench.agent_collect [--namespaces 1000] [--nat 1000] [--repeat 3]

Builds --namespaces namespaces ``agtb0000``... each with a veth pair (one
end inside with an address and one route, the other in the root namespace,
the way ``ovs_use_veth`` plugs ``qr-``/``tap``), optionally an SNAT rule in
the first --nat of them (like a qrouter), runs full collections and prints:
collection time without NAT rules, with NAT rules (every iptables-save run,
as at start and at each resync) and with the nf_tables generation cache (as
after an event), the per-namespace cost of ``iptables-save`` via
``ip netns exec`` against setns in-process, report size and validation
time. Everything it creates is deleted at the end, also on Ctrl-C, and
leftovers of an interrupted run are deleted first. Needs root.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from topology.agent import netlink
from topology.agent.collect import Collector, list_namespaces
from topology.report import MAX_REPORT_BYTES, Report, validate_report

PREFIX = "agtb"
NETNS_DIR = Path("/run/netns")


def ns_name(i: int) -> str:
    return f"{PREFIX}{i:04d}"


def ip_batch(lines: list[str], *, check: bool = True) -> None:
    """One `ip -batch` process for many commands (`-force` goes on after an error when cleaning up)."""
    with tempfile.NamedTemporaryFile("w", suffix=".ip") as batch:
        batch.write("\n".join(lines) + "\n")
        batch.flush()
        args = ["ip", "-force", "-batch", batch.name] if not check else ["ip", "-batch", batch.name]
        subprocess.run(args, check=check, capture_output=True)


def cleanup() -> None:
    """Remove every benchmark namespace (their veths go with them)."""
    names = [name for name in list_namespaces(NETNS_DIR) if name.startswith(PREFIX)]
    if names:
        ip_batch([f"netns del {name}" for name in names], check=False)


def configure_inside(i: int, root_fd: int) -> None:
    """Address, link up and one route inside namespace i, over netlink (a process per namespace is slow)."""
    from pyroute2 import IPRoute

    fd = netlink.open_namespace(NETNS_DIR, ns_name(i))
    try:
        with netlink.entered(fd, root_fd):
            ipr = IPRoute()
        with ipr:
            index = ipr.link_lookup(ifname=f"{ns_name(i)}n")[0]
            ipr.addr("add", index=index, address=f"10.{250 + i // 250}.{i % 250}.2", prefixlen=24)
            ipr.link("set", index=index, state="up")
            ipr.route("add", dst="10.254.0.0/16", gateway=f"10.{250 + i // 250}.{i % 250}.1")
    finally:
        os.close(fd)


SNAT_RULES = "*nat\n-A POSTROUTING -s 10.0.0.0/24 -j SNAT --to-source 192.168.1.10\nCOMMIT\n"
# What the L3 agent puts in every qrouter namespace's IPv6 filter table (dual stack or not): a rule of that kind.
IPV6_RULES = "*filter\n-A INPUT -p ipv6-icmp -j ACCEPT\nCOMMIT\n"


def add_nat(
    names: list[str], root_fd: int, parallel: int = 8, rules: str = SNAT_RULES, restore: str = "iptables-restore"
) -> None:
    """An SNAT rule in each namespace, like a router's gateway (iptables-restore, spawned in the namespace)."""
    running: list[subprocess.Popen[bytes]] = []
    for name in names:
        fd = netlink.open_namespace(NETNS_DIR, name)
        try:
            with netlink.entered(fd, root_fd):
                process = subprocess.Popen([restore, "--noflush"], stdin=subprocess.PIPE)
        finally:
            os.close(fd)
        assert process.stdin is not None
        process.stdin.write(rules.encode())
        process.stdin.close()
        running.append(process)
        if len(running) >= parallel:
            running.pop(0).wait()
    for process in running:
        process.wait()


@contextmanager
def namespaces(count: int) -> Iterator[None]:
    cleanup()
    root_fd = netlink.current_namespace_fd()
    try:
        started = time.perf_counter()
        ip_batch([f"netns add {ns_name(i)}" for i in range(count)])
        ip_batch([f"link add {ns_name(i)}r type veth peer name {ns_name(i)}n netns {ns_name(i)}" for i in range(count)])
        for i in range(count):
            configure_inside(i, root_fd)
        print(
            f"setup: {count} namespaces with a veth pair, an address and a route in "
            f"{time.perf_counter() - started:.1f} s"
        )
        yield
    finally:
        started = time.perf_counter()
        cleanup()
        os.close(root_fd)
        print(f"cleanup: {time.perf_counter() - started:.1f} s")


def timed(run: Callable[[], Report], repeat: int) -> tuple[float, float, dict[str, Any]]:
    times: list[float] = []
    result: dict[str, Any] = {}
    for _ in range(repeat):
        started = time.perf_counter()
        result = dict(run())
        times.append(time.perf_counter() - started)
    return statistics.median(times), max(times), result


def iptables_save_costs(names: list[str], root_fd: int) -> tuple[float, float]:
    """Seconds per namespace: `ip netns exec X iptables-save -c` vs spawning it after setns."""
    started = time.perf_counter()
    for name in names:
        subprocess.run(["ip", "netns", "exec", name, "iptables-save", "-c"], check=True, capture_output=True)
    exec_cost = (time.perf_counter() - started) / len(names)
    started = time.perf_counter()
    for name in names:
        fd = netlink.open_namespace(NETNS_DIR, name)
        try:
            with netlink.entered(fd, root_fd):
                process = subprocess.Popen(["iptables-save", "-c"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        finally:
            os.close(fd)
        process.communicate()
    return exec_cost, (time.perf_counter() - started) / len(names)


def report_line(label: str, median: float, worst: float, report: dict[str, Any], collector: Collector) -> None:
    v6 = collector.ip6tables.spawned if collector.ip6tables is not None else "absent"
    print(
        f"{label}: median {median:.2f} s, max {worst:.2f} s, iptables-save runs {collector.iptables.spawned}, "
        f"ip6tables-save runs {v6}, {len(report['namespaces'])} namespaces, {len(report['interfaces'])} root interfaces"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--namespaces", type=int, default=1000)
    parser.add_argument("--nat", type=int, default=1000, help="namespaces that get an SNAT rule (default: all)")
    parser.add_argument("--ipv6", type=int, default=0, help="namespaces that get an ip6tables rule as well")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root (creates namespaces)")
    # `kill` of the benchmark must still remove its namespaces (the `finally` below).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    print(
        f"host: {socket.gethostname()}, {os.cpu_count()} CPUs; namespaces already present: "
        f"{len(list_namespaces(NETNS_DIR))}"
    )
    with namespaces(args.namespaces):
        collector = Collector("bench", ovsdb=None)
        try:
            median, worst, report = timed(collector.collect, args.repeat)
            report_line("full collection, no NAT rules", median, worst, report, collector)

            started = time.perf_counter()
            nat_names = [ns_name(i) for i in range(min(args.nat, args.namespaces))]
            add_nat(nat_names, collector.root_fd)
            print(f"setup: SNAT rule in {len(nat_names)} namespaces in {time.perf_counter() - started:.1f} s")
            v6_names = [ns_name(i) for i in range(min(args.ipv6, args.namespaces))]
            if v6_names:
                add_nat(v6_names, collector.root_fd, rules=IPV6_RULES, restore="ip6tables-restore")
                print(f"setup: an ip6tables rule in {len(v6_names)} namespaces")

            median, worst, report = timed(collector.collect, args.repeat)
            report_line(
                f"full collection, SNAT in {len(nat_names)} (fresh: every iptables-save runs)",
                median,
                worst,
                report,
                collector,
            )
            median, worst, report = timed(lambda: collector.collect(fresh=False), args.repeat)
            report_line(
                "event-driven collection (nf_tables generation cache)",
                median,
                worst,
                report,
                collector,
            )

            body = json.dumps(report, separators=(",", ":")).encode()
            started = time.perf_counter()
            reasons = validate_report(json.loads(body))
            validation = time.perf_counter() - started
            print(
                f"report: {len(body) / 1e6:.1f} MB JSON ({len(gzip.compress(body, 1)) / 1e6:.2f} MB gzip -1), "
                f"limit {MAX_REPORT_BYTES / 2**20:.0f} MiB; json.loads + validate_report {validation * 1000:.0f} ms, "
                f"{len(reasons)} reasons"
            )

            sample = nat_names[:100] or [ns_name(i) for i in range(min(100, args.namespaces))]
            exec_cost, setns_cost = iptables_save_costs(sample, collector.root_fd)
            print(
                f"iptables-save per namespace (sequential, {len(sample)} samples): ip netns exec "
                f"{exec_cost * 1000:.1f} ms, setns + spawn {setns_cost * 1000:.1f} ms"
            )
        finally:
            collector.close()


if __name__ == "__main__":
    main()
