"""Network namespaces and links, through iproute2."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from lab import procs

NETNS_DIR = Path("/run/netns")

# Namespaces the lab makes or its agents make: VMs, the outside host, and
# Neutron's qrouter-/qdhcp-/snat-/fip- namespaces.
LAB_NAMESPACE = re.compile(r"^(vm-.+|outside|qrouter-.+|qdhcp-.+|snat-.+|fip-.+)$")
# Root-namespace links named after a port id (first 11 characters), which
# Nova-style plugging and the agents create: tap/qbr/qvb/qvo + id[:11].
PORT_LINK = re.compile(r"^(tap|qbr|qvb|qvo|qr-|qg-|ns-|sg-|fg-)[0-9a-f]{8}-[0-9a-f]{2}$")
# DVR's veth between a qrouter- and the fip- namespace: rfp-/fpr- + router id[:10]
# (Neutron cuts these names at 14 characters, not at the port devices' 15).
DVR_LINK = re.compile(r"^(rfp|fpr)-[0-9a-f]{8}-[0-9a-f]$")


def netns_dir() -> Path:
    """Where the current view's (see procs.view) namespace names live, as seen from here."""
    v = procs.current_view()
    return v.netns_dir if v else NETNS_DIR


def list_namespaces() -> list[str]:
    d = netns_dir()
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def exists(ns: str) -> bool:
    return (netns_dir() / ns).exists()


def add(ns: str) -> None:
    if not exists(ns):
        procs.run(["ip", "netns", "add", ns])
    ip(ns, "link", "set", "lo", "up")


def delete(ns: str) -> None:
    # Killing what still runs inside (udhcpc, dnsmasq) lets the namespace go.
    for pid in procs.run(["ip", "netns", "pids", ns], check=False).stdout.split():
        procs.run(["kill", "-9", pid], check=False)
    procs.run(["ip", "netns", "delete", ns], check=False)


def ip(ns: str, *args: str) -> str:
    return procs.run(["ip", "-n", ns, *args]).stdout


def execute(ns: str, *argv: str, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    return procs.run(["ip", "netns", "exec", ns, *argv], check=False, timeout=timeout)


def link_exists(dev: str, ns: str | None = None) -> bool:
    prefix = ["-n", ns] if ns else []
    return procs.run(["ip", *prefix, "link", "show", "dev", dev], check=False).returncode == 0


def delete_link(dev: str) -> None:
    if link_exists(dev):
        procs.run(["ip", "link", "delete", dev], check=False)


def root_links() -> list[str]:
    out = procs.run(["ip", "-o", "link", "show"]).stdout
    # "3: qvb1234abcd-ef@qvo1234abcd-ef: <...": keep the name before "@" or ":".
    return [re.split(r"[@:]", line.split(": ", 1)[1], maxsplit=1)[0] for line in out.splitlines()]


def ipv4_addresses(ns: str, dev: str) -> list[str]:
    out = procs.run(["ip", "-n", ns, "-4", "-o", "addr", "show", "dev", dev], check=False).stdout
    return [line.split()[3] for line in out.splitlines()]
