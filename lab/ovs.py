"""Open vSwitch with the userspace datapath (no kernel module on these machines).

ovsdb-server and ovs-vswitchd run as lab daemons with the database under the
lab dir; only their sockets and pidfiles sit in /var/run/openvswitch, where
ovs-vsctl, ovs-ofctl and Neutron's agents look for them. Every bridge is
created with datapath_type=netdev.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from lab import netns, paths, procs
from lab.procs import Daemon

OVS_RUNDIR = Path("/var/run/openvswitch")
DB_SOCK = OVS_RUNDIR / "db.sock"
OVSDB_CONNECTION = f"unix:{DB_SOCK}"
SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")

DATA_DIR = paths.RUN_DIR / "ovs"
DB_FILE = DATA_DIR / "conf.db"

INTEGRATION_BRIDGE = "br-int"
TUNNEL_BRIDGE = "br-tun"
EXTERNAL_BRIDGE = "br-ex"
LAB_BRIDGES = (INTEGRATION_BRIDGE, TUNNEL_BRIDGE, EXTERNAL_BRIDGE)
PHYSNET = "external"  # bridge_mappings = external:br-ex
# Scenario vlan (seed 004): project networks are VLANs of physnet1 on the provider bridge br-vlan of each
# host, the two br-vlan joined by a veth "wire" (lab/hosts.py). The range is small so that it can be filled.
VLAN_PHYSNET = "physnet1"
VLAN_BRIDGE = "br-vlan"
VLAN_RANGE = (100, 104)

# The outside world of the lab: a namespace standing for the seed's physical
# LAN and its gateway 192.168.1.1, wired to br-ex by a veth (never a real NIC).
OUTSIDE_NS = "outside"
OUTSIDE_IP = "192.168.1.1"
OUTSIDE_PREFIX = 24
OUTSIDE_PORT = "ex-outside"  # br-ex's "physical" port (root-namespace end of the veth)


def vsctl(*args: str, check: bool = True) -> str:
    return procs.run(["ovs-vsctl", f"--db={OVSDB_CONNECTION}", "--timeout=30", *args], check=check).stdout


def daemons() -> list[Daemon]:
    return [
        Daemon(
            name="ovsdb-server",
            argv=[
                "ovsdb-server",
                str(DB_FILE),
                f"--remote=punix:{DB_SOCK}",
                "--remote=db:Open_vSwitch,Open_vSwitch,manager_options",
                "--pidfile",
            ],
        ),
        Daemon(
            name="ovs-vswitchd",
            # Its log file names the lab dir on its command line (see procs.kill_orphans).
            argv=[
                "ovs-vswitchd",
                OVSDB_CONNECTION,
                "--pidfile",
                "--disable-system",
                f"--log-file={paths.LOG_DIR / 'ovs-vswitchd.vlog'}",
                "-vconsole:off",
            ],
        ),
    ]


def foreign_ovs_running() -> bool:
    """Someone else's OVS owns the standard socket: the lab must not touch it."""
    return DB_SOCK.exists() and procs.read_pid("ovsdb-server") is None and _socket_answers()


def _socket_answers() -> bool:
    return procs.run(["ovs-vsctl", f"--db={OVSDB_CONNECTION}", "--timeout=2", "show"], check=False).returncode == 0


socket_answers = _socket_answers  # in the current view (compute2's OVS inside procs.view)


def start() -> None:
    if foreign_ovs_running():
        raise RuntimeError(f"an Open vSwitch not started by the lab answers on {DB_SOCK}")
    OVS_RUNDIR.mkdir(parents=True, exist_ok=True)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    if not DB_FILE.exists():
        procs.run(["ovsdb-tool", "create", str(DB_FILE), str(SCHEMA)])
    server, switch = daemons()
    procs.start(server)
    if not procs.wait_for(_socket_answers, 30):
        raise RuntimeError(f"ovsdb-server did not answer; see {server.logfile}")
    vsctl("--no-wait", "init")
    procs.start(switch)
    # Without --no-wait ovs-vsctl waits for ovs-vswitchd to apply the change:
    # creating br-ex doubles as the readiness check of the switch.
    add_bridge(EXTERNAL_BRIDGE)
    procs.run(["ip", "link", "set", EXTERNAL_BRIDGE, "up"])


def add_bridge(name: str) -> None:
    vsctl("--may-exist", "add-br", name, "--", "set", "Bridge", name, "datapath_type=netdev")


def add_port(bridge: str, port: str, *interface_settings: str) -> None:
    args = ["--may-exist", "add-port", bridge, port]
    if interface_settings:
        args += ["--", "set", "Interface", port, *interface_settings]
    vsctl(*args)


def bridges() -> list[str]:
    return vsctl("list-br").split()


def disable_tx_offload(dev: str, netns: str | None = None) -> None:
    """The userspace datapath does not fill in checksums a veth left partial."""
    prefix = ["ip", "netns", "exec", netns] if netns else []
    procs.run([*prefix, "ethtool", "-K", dev, "tx", "off"], check=False)


def plug_outside() -> None:
    """Create the outside host: namespace `outside`, 192.168.1.1/24, veth to br-ex."""
    netns.add(OUTSIDE_NS)
    if not netns.link_exists(OUTSIDE_PORT):
        procs.run(["ip", "link", "add", OUTSIDE_PORT, "type", "veth", "peer", "name", "eth0", "netns", OUTSIDE_NS])
    netns.ip(OUTSIDE_NS, "addr", "replace", f"{OUTSIDE_IP}/{OUTSIDE_PREFIX}", "dev", "eth0")
    # IPv6 only where a scenario adds it (dualstack): its global address and routes go with the last one.
    netns.ip(OUTSIDE_NS, "-6", "addr", "flush", "dev", "eth0", "scope", "global")
    netns.ip(OUTSIDE_NS, "link", "set", "eth0", "up")
    disable_tx_offload("eth0", OUTSIDE_NS)
    disable_tx_offload(OUTSIDE_PORT)
    procs.run(["ip", "link", "set", OUTSIDE_PORT, "up"])
    add_port(EXTERNAL_BRIDGE, OUTSIDE_PORT)


def teardown() -> None:
    """Delete the lab's bridges and the agent's manager entry, stop OVS, drop its db."""
    if procs.read_pid("ovsdb-server") is not None:
        # The OVS agent adds a manager entry (system-wide on a shared OVS).
        vsctl("del-manager", check=False)
        for br in bridges():
            vsctl("--if-exists", "del-br", br, check=False)
    procs.stop("ovs-vswitchd")
    procs.stop("ovsdb-server")
    shutil.rmtree(DATA_DIR, ignore_errors=True)
    _clean_rundir()


def _clean_rundir() -> None:
    """Remove what the daemons left in /var/run/openvswitch (mgmt/snoop sockets, pidfiles)."""
    if not OVS_RUNDIR.exists():
        return
    for leftover in OVS_RUNDIR.iterdir():
        if leftover.suffix in (".mgmt", ".snoop", ".pid", ".ctl", ".sock"):
            leftover.unlink(missing_ok=True)
