"""Real namespaces, veths and Linux bridges for the agent's tests.

Everything is named `agt...` with a per-run suffix and removed afterwards;
addresses live only inside namespaces created here (10.249.x.0/24); no
existing NIC is touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

SUFFIX = f"{os.getpid() % 100000:05d}"


class CommandFailed(AssertionError):
    """A set-up command failed: its command line, exit status and what it printed."""


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, check=False, capture_output=True, text=True)
    if check and done.returncode != 0:
        # CalledProcessError's message drops stderr: the reason would be lost.
        raise CommandFailed(
            f"{' '.join(args)} exited with {done.returncode}: "
            f"stderr: {done.stderr.strip() or '(empty)'}; stdout: {done.stdout.strip() or '(empty)'}"
        )
    return done


def needs_root() -> None:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 to create namespaces and veths")


def needs_iptables() -> None:
    """The node agent runs iptables-save; the NAT fixtures run iptables.

    On a fresh machine iptables came only with the lab's install, which runs
    after these tests (they need no lab): `ip netns exec NS iptables` then
    exited 1 ("exec of iptables failed"). bin/setup installs it now.
    """
    missing = [p for p in ("iptables", "iptables-save") if shutil.which(p) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: bin/setup installs iptables (apt)")


@dataclass(frozen=True)
class Topology:
    """Names of what the `topology` fixture built (see its docstring)."""

    router: str  # like a qrouter-: veth to `fip`, veth to the root, a Linux bridge, table 16, SNAT
    fip: str  # like a fip-: the other end of the rfp/fpr-like veth
    root_veth: str  # root end of the root <-> router veth
    router_root_veth: str
    rfp: str  # router end of router <-> fip
    fpr: str  # fip end
    bridge: str  # Linux bridge inside `router` (like qbr)
    bridge_port: str  # enslaved to `bridge`
    bridge_port_peer: str  # its veth peer, same namespace


@pytest.fixture
def topology() -> Iterator[Topology]:
    """Two namespaces joined by a veth, a root<->namespace veth, a Linux bridge, policy routing and NAT.

    Inside the router namespace, like a DVR qrouter: `from 10.249.0.5 lookup 16`,
    a default route in table 16 via the fip namespace, and an SNAT rule.
    """
    needs_root()
    needs_iptables()
    t = Topology(
        router=f"agtr{SUFFIX}",
        fip=f"agtf{SUFFIX}",
        root_veth=f"agtR{SUFFIX}",
        router_root_veth=f"agtN{SUFFIX}",
        rfp=f"agtp{SUFFIX}",
        fpr=f"agtq{SUFFIX}",
        bridge=f"agtb{SUFFIX}",
        bridge_port=f"agtx{SUFFIX}",
        bridge_port_peer=f"agty{SUFFIX}",
    )
    try:
        for ns in (t.router, t.fip):
            sh("ip", "netns", "add", ns)
        r = ("ip", "-n", t.router)
        sh(*r, "link", "add", t.rfp, "type", "veth", "peer", "name", t.fpr, "netns", t.fip)
        sh("ip", "link", "add", t.root_veth, "type", "veth", "peer", "name", t.router_root_veth, "netns", t.router)
        sh(*r, "link", "add", t.bridge, "type", "bridge")
        sh(*r, "link", "add", t.bridge_port, "type", "veth", "peer", "name", t.bridge_port_peer)
        sh(*r, "link", "set", t.bridge_port, "master", t.bridge)
        for dev in ("lo", t.rfp, t.bridge, t.bridge_port, t.bridge_port_peer):
            sh(*r, "link", "set", dev, "up")
        sh("ip", "-n", t.fip, "link", "set", t.fpr, "up")
        sh("ip", "-n", t.fip, "link", "set", "lo", "up")
        sh(*r, "addr", "add", "10.249.0.1/24", "dev", t.rfp)
        sh(*r, "addr", "add", "10.249.3.1/24", "dev", t.bridge)
        sh("ip", "-n", t.fip, "addr", "add", "10.249.0.2/24", "dev", t.fpr)
        sh(*r, "route", "add", "default", "via", "10.249.0.2", "dev", t.rfp, "table", "16")
        sh(*r, "rule", "add", "from", "10.249.0.5", "lookup", "16", "priority", "32000")
        sh(*r, "rule", "add", "from", "10.249.3.1/24", "lookup", "3232236545", "priority", "32001")
        sh(
            "ip",
            "netns",
            "exec",
            t.router,
            "iptables",
            "-t",
            "nat",
            "-A",
            "POSTROUTING",
            "-s",
            "10.249.0.0/24",
            "-o",
            t.rfp,
            "-j",
            "SNAT",
            "--to-source",
            "10.249.0.1",
        )
        yield t
    finally:
        sh("ip", "link", "del", t.root_veth, check=False)
        for ns in (t.router, t.fip):
            sh("ip", "netns", "del", ns, check=False)


def ovs_running() -> bool:
    if shutil.which("ovs-vsctl") is None:
        return False
    return sh("ovs-vsctl", "--timeout=5", "show", check=False).returncode == 0
