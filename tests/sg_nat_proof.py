"""Real traffic for the security-group-after-NAT and hairpin tests: a TCP listener inside a VM's
namespace that records who connects (the address its security groups judge), a TCP connect from
another namespace, rules and groups changed through Neutron and restored, and the qg-/NAT counters."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import openstack.connection

from tests.broken_states import rules_removed

Cloud = openstack.connection.Connection

LISTENER = """
import socket, sys
host = sys.argv[2] if len(sys.argv) > 2 else "0.0.0.0"
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, int(sys.argv[1]))); s.listen(8); print("listening", flush=True)
while True:
    c, peer = s.accept(); print(peer[0], flush=True); c.close()
"""
PEER = r"\d+\.\d+\.\d+\.\d+|[0-9a-f:]*:[0-9a-f:]+"  # an IPv4 or IPv6 address, as the listener prints it
CONNECT = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])).close()
except OSError as exc:
    print(exc); sys.exit(1)
"""


def in_namespace(name: str, argv: list[str]) -> list[str]:
    """argv run in a VM's (or a lab namespace's) namespace, in its host's view."""
    from lab import hostcmd, hosts

    host, ns = hostcmd.locate(name)
    view = hosts.view(host)
    return [*(view.prefix if view else ()), "ip", "netns", "exec", ns, *argv]


@dataclass
class Listener:
    process: subprocess.Popen[str]
    peers: list[str] = field(default_factory=list)

    def seen(self) -> list[str]:
        """The addresses that connected so far (read without blocking past what is written)."""
        import os
        import select

        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while select.select([fd], [], [], 0.2)[0]:
            chunk = os.read(fd, 4096).decode()
            if not chunk:
                break
            self.peers += [
                line for line in chunk.split() if re.fullmatch(r"\d+\.\d+\.\d+\.\d+|[0-9a-f:]*:[0-9a-f:]+", line)
            ]
        return self.peers


@contextlib.contextmanager
def tcp_listener(vm: str, port: int, host: str = "0.0.0.0") -> Iterator[Listener]:
    """A listener in ``vm``'s namespace on ``host`` (``::`` for IPv6) that records its peers."""
    process = subprocess.Popen(
        in_namespace(vm, [sys.executable, "-c", LISTENER, str(port), host]), stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "listening"
        yield Listener(process)
    finally:
        process.kill()  # the one process this test started
        process.wait(timeout=10)


def connects(vm: str, address: str, port: int, timeout: float = 4.0) -> bool:
    done = subprocess.run(
        in_namespace(vm, [sys.executable, "-c", CONNECT, address, str(port), str(timeout)]),
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout + 30,
    )
    return done.returncode == 0


def connects_within(vm: str, address: str, port: int, wait: float = 90) -> bool:
    """The agents apply a rule a few seconds after the API takes it: poll until a connect succeeds."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if connects(vm, address, port):
            return True
    return False


@contextlib.contextmanager
def ingress_rule(cloud: Cloud, group: str, **rule: Any) -> Iterator[None]:
    created = cloud.network.create_security_group_rule(security_group_id=group, direction="ingress", **rule)
    try:
        yield
    finally:
        cloud.network.delete_security_group_rule(created)


@contextlib.contextmanager
def groups_removed(cloud: Cloud, port: str) -> Iterator[None]:
    groups = list(cloud.network.get_port(port).security_group_ids)
    cloud.network.update_port(port, security_groups=[])
    try:
        yield
    finally:
        cloud.network.update_port(port, security_groups=groups)


def egress_removed(cloud: Cloud, group: str) -> contextlib.AbstractContextManager[None]:
    """The group's IPv4 egress rules deleted (Neutron's default group has one: any to anywhere)."""
    return rules_removed(
        cloud,
        group,
        lambda r: r.direction == "egress" and r.ether_type == "IPv4",
        "Neutron gives the group an egress rule",
    )


def link_packets(namespace: str, device_prefix: str) -> tuple[int, int]:
    """(RX, TX) packet counters of the namespace's device named ``device_prefix``* (`ip -s link`)."""
    from lab import api

    out = api.run_in(namespace, ["ip", "-s", "-o", "link", "show"]).stdout
    line = next(row for row in out.splitlines() if re.search(rf"^\d+: {re.escape(device_prefix)}", row))
    numbers = re.findall(r"RX:[^\\]*\\\s+(\d+)\s+(\d+).*?TX:[^\\]*\\\s+(\d+)\s+(\d+)", line)
    assert numbers, line
    return int(numbers[0][1]), int(numbers[0][3])


def nat_rule_packets(namespace: str, chain: str, *needles: str) -> int:
    """The packet counter of the rule of nat ``chain`` whose `iptables -t nat -L -v -x -n` line holds every needle."""
    from lab import api

    out = api.run_in(namespace, ["iptables", "-t", "nat", "-L", chain, "-v", "-x", "-n"]).stdout
    rows = [row for row in out.splitlines() if all(n in row for n in needles)]
    assert len(rows) == 1, (needles, rows)
    return int(rows[0].split()[0])
