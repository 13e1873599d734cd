"""The lab's hosts: `controller` (this machine) and, for scenarios dvr, netnode, ha and vlan, `compute2`.

compute2 is a second compute node on the same machine:

- a holder process (`unshare --net --mount --propagation private`, then
  `sleep`) keeps its network and mount namespaces; private directories under
  `var/lab/run/compute2` are bind-mounted over `/run/netns` and
  `/run/openvswitch` there, so its `qrouter-`/`fip-` namespaces and its OVS
  sockets do not collide with host 1's of the same names, and `/sys` is
  remounted for its network namespace;
- its own `ovsdb-server` and `ovs-vswitchd --disable-system`;
- `br-phy` on each host carries the tunnel address (10.0.1.11 / 10.0.1.12)
  over a veth pair `lab-tun1`/`lab-tun2`; a second pair `lab-ex1`/`lab-ex2`
  joins the two br-ex (the flat external network);
- its own OVS agent (`host = compute2`, `local_ip = 10.0.1.12`) and L3 agent
  (`agent_mode = dvr`, with the metadata proxy: haproxy in its qrouter
  namespaces) and its own metadata agent (`host = compute2`, behind that
  proxy's unix socket under compute2's state path), as Neutron runs one on
  every compute node of a DVR cloud; a relay (scripts/netns_relay.py)
  listening on compute2's 127.0.0.1:5672 (and the dashboard's port, for the
  node agent, and Nova's metadata port, for the metadata agent: the stand-in
  for Nova runs on host 1) connects to host 1's loopback, so nothing listens
  outside loopback.

In host mode netnode (scenario netnode, seed 003) compute2 is the network node instead: its OVS
agent without DVR, the legacy L3 agent (router1's qrouter- with its metadata proxy) and the DHCP
agent (dnsmasq with seed 003's option 26, MTU 1400), while host 1 runs its OVS agent only.

In host mode ha (scenario ha, issue 15) both hosts run a legacy L3 agent and an HA router has a
qrouter- on each, one active and one standby (keepalived, VRRP over the HA network); compute2 runs
its OVS agent without DVR, the L3 agent and the metadata agent, host 1 every agent.

In host mode vlan (scenario vlan, seed 004) the project networks are VLANs of physnet1: each host has a
provider bridge br-vlan (mapped by both OVS agents) whose "physical" port is one end of the veth wire
`lab-vlan1`/`lab-vlan2`; compute2 runs its OVS agent only (host 1 every agent: legacy L3, DHCP).

Commands run "in a host's view" through `procs.view(hosts.view(host))`.
compute2 comes up before host 1's agents start and goes down after they stop.
"""

from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path
from urllib.parse import urlsplit

from lab import metadata, netns, neutron, ovs, paths, procs
from lab.procs import Daemon, View

log = logging.getLogger(__name__)

CONTROLLER = neutron.HOST
COMPUTE2 = "compute2"
TUNNEL_IPS = {CONTROLLER: neutron.DVR_LOCAL_IP, COMPUTE2: "10.0.1.12"}
TUNNEL_PREFIX = 24
PHY_BRIDGE = "br-phy"
TUNNEL_LINKS = ("lab-tun1", "lab-tun2")  # host 1's end, compute2's end
EXTERNAL_LINKS = ("lab-ex1", "lab-ex2")
VLAN_LINKS = ("lab-vlan1", "lab-vlan2")  # the wire between the br-vlan of host 1 and of compute2
LINKS = (TUNNEL_LINKS[0], EXTERNAL_LINKS[0], VLAN_LINKS[0])  # the ends in host 1's namespace
BRIDGES = (PHY_BRIDGE, ovs.VLAN_BRIDGE)  # what host 1 gets for compute2 (br-vlan in mode vlan only)

DIR = paths.RUN_DIR / COMPUTE2
NETNS_DIR = DIR / "netns"
OVS_RUNDIR = DIR / "openvswitch"
OVS_DIR = DIR / "ovs"
STATE_PATH = DIR / "neutron"
ETC_DIR = paths.ETC_DIR / COMPUTE2
CONF = ETC_DIR / "neutron.conf"
OVS_AGENT_CONF = ETC_DIR / "openvswitch_agent.ini"
L3_AGENT_CONF = ETC_DIR / "l3_agent.ini"
DHCP_AGENT_CONF = ETC_DIR / "dhcp_agent.ini"
METADATA_AGENT_CONF = ETC_DIR / "metadata_agent.ini"

HOLDER = f"{COMPUTE2}-holder"
RELAY = f"{COMPUTE2}-relay"
AGENT_TYPES = ("Open vSwitch agent", "L3 agent", metadata.AGENT_TYPE)
# Mode netnode (seed 003): compute2 is the network node, with the legacy L3 agent and the DHCP agent.
NETNODE_AGENT_TYPES = (*AGENT_TYPES, "DHCP agent")
# Mode vlan (seed 004): compute2 a compute node of the VLAN networks, its OVS agent only.
VLAN_AGENT_TYPES = AGENT_TYPES[:1]
# dnsmasq's option 26 (interface MTU) as seed 003's packstack set it (dnsmasq-neutron.conf:
# dhcp-option-force=26,1400): on the network node's DHCP agent only.
NETNODE_MTU = 1400
DNSMASQ_CONF = ETC_DIR / "dnsmasq-neutron.conf"


def agent_types(mode: str) -> tuple[str, ...]:
    if mode == "vlan":
        return VLAN_AGENT_TYPES
    return NETNODE_AGENT_TYPES if mode == "netnode" else AGENT_TYPES


RELAY_SCRIPT = Path(__file__).parent / "scripts" / "netns_relay.py"


def holder_pid() -> int | None:
    return procs.read_pid(HOLDER)


def running() -> bool:
    return holder_pid() is not None


def view(host: str) -> View | None:
    """The view of `host` for procs.view(): None for host 1 (commands run as they are)."""
    if host == CONTROLLER:
        return None
    if host != COMPUTE2:
        raise ValueError(f"unknown host {host!r}; known: {CONTROLLER}, {COMPUTE2}")
    pid = holder_pid()
    if pid is None:
        raise RuntimeError(f"{COMPUTE2} is not running (scenarios dvr, netnode, ha and vlan only)")
    return View(COMPUTE2, ("nsenter", "-t", str(pid), "-n", "-m"), NETNS_DIR)


def names() -> list[str]:
    """The hosts running now."""
    return [CONTROLLER, COMPUTE2] if running() else [CONTROLLER]


def ovs_daemons() -> list[Daemon]:
    # In compute2's mount namespace /var/run/openvswitch is its own directory.
    return [
        Daemon(
            f"{COMPUTE2}-ovsdb-server",
            [
                "ovsdb-server",
                str(OVS_DIR / "conf.db"),
                f"--remote=punix:{ovs.DB_SOCK}",
                "--remote=db:Open_vSwitch,Open_vSwitch,manager_options",
                "--pidfile",
            ],
        ),
        Daemon(
            f"{COMPUTE2}-ovs-vswitchd",
            [
                "ovs-vswitchd",
                ovs.OVSDB_CONNECTION,
                "--pidfile",
                "--disable-system",
                f"--log-file={paths.LOG_DIR / f'{COMPUTE2}-ovs-vswitchd.vlog'}",
                "-vconsole:off",
            ],
        ),
    ]


def agent_daemons(mode: str = "") -> list[Daemon]:
    """compute2's agents in host mode `mode` (dvr, netnode or ha); "": every one it may run (to stop them)."""

    def agent(name: str, conf: Path) -> Daemon:
        return Daemon(
            f"{COMPUTE2}-{name}",
            [str(paths.venv_bin(neutron.VENV, name)), "--config-file", str(CONF), "--config-file", str(conf)],
            env=neutron.l3_agent_env() if name == "neutron-l3-agent" else {},
            stop_grace=neutron.STOP_GRACE,
        )

    every = [
        agent("neutron-openvswitch-agent", OVS_AGENT_CONF),
        agent("neutron-l3-agent", L3_AGENT_CONF),
        agent(metadata.AGENT_NAME, METADATA_AGENT_CONF),
        agent("neutron-dhcp-agent", DHCP_AGENT_CONF),
    ]
    if mode == "vlan":
        return every[:1]
    return every if mode in ("", "netnode") else every[:3]


def daemon_names(mode: str = "") -> list[str]:
    """compute2's daemons in host mode `mode` ("": every one it may run)."""
    return [HOLDER, RELAY, *(d.name for d in ovs_daemons()), *(d.name for d in agent_daemons(mode))]


def _holder() -> Daemon:
    script = " && ".join(
        [
            "mkdir -p /run/netns /run/openvswitch",
            f"mount --bind {NETNS_DIR} /run/netns",
            f"mount --bind {OVS_RUNDIR} /run/openvswitch",
            # /sys describing compute2's network namespace, as `ip netns exec` does.
            "{ umount -l /sys; mount -t sysfs sysfs /sys; ip link set lo up; exec sleep infinity; }",
        ]
    )
    return Daemon(HOLDER, ["unshare", "--net", "--mount", "--propagation", "private", "sh", "-c", script], stop_grace=1)


def _relay(dashboard_url: str) -> Daemon:
    pid = holder_pid()
    ports = ["5672", str(urlsplit(dashboard_url).port or 80), str(metadata.NOVA_METADATA_PORT)]
    return Daemon(RELAY, [sys.executable, str(RELAY_SCRIPT), f"/proc/{pid}/ns/net", *ports], stop_grace=1)


def write_config(mode: str = "dvr") -> None:
    """compute2's files: a DVR compute node (mode dvr), the network node (netnode: legacy L3 agent,
    DHCP agent with seed 003's dnsmasq option 26) or the second HA router host (ha: legacy L3 agent)."""
    legacy = mode in ("netnode", "ha", "vlan")
    ETC_DIR.mkdir(parents=True, exist_ok=True)
    (STATE_PATH / "lock").mkdir(parents=True, exist_ok=True)
    CONF.write_text(neutron.neutron_conf(COMPUTE2, STATE_PATH, CONF))
    OVS_AGENT_CONF.write_text(neutron.ovs_agent_conf(TUNNEL_IPS[COMPUTE2], dvr=not legacy, vlan=mode == "vlan"))
    L3_AGENT_CONF.write_text(neutron.l3_agent_conf("legacy" if legacy else "dvr", with_metadata=True))
    METADATA_AGENT_CONF.write_text(metadata.agent_conf())
    DNSMASQ_CONF.write_text(f"{neutron.DNSMASQ}dhcp-option-force=26,{NETNODE_MTU}\n")
    dhcp = neutron.dhcp_agent_conf(with_metadata=False)
    DHCP_AGENT_CONF.write_text(dhcp.replace(str(neutron.DNSMASQ_CONF), str(DNSMASQ_CONF)))


def _plug_phy(bridge_ip: str, tunnel_link: str, external_link: str, vlan_link: str | None = None) -> None:
    """br-phy with the tunnel address and the tunnel veth, the external veth on br-ex, and with `vlan_link`
    br-vlan with the VLAN wire as its physical port (current view; before the OVS agent starts)."""
    ovs.add_bridge(ovs.EXTERNAL_BRIDGE)
    ovs.add_bridge(PHY_BRIDGE)
    procs.run(["ip", "addr", "replace", f"{bridge_ip}/{TUNNEL_PREFIX}", "dev", PHY_BRIDGE])
    links = (tunnel_link, external_link, *((vlan_link,) if vlan_link else ()))
    for dev in (ovs.EXTERNAL_BRIDGE, PHY_BRIDGE, *links):
        procs.run(["ip", "link", "set", dev, "up"])
    for dev in links:
        ovs.disable_tx_offload(dev)
    ovs.add_port(PHY_BRIDGE, tunnel_link)
    ovs.add_port(ovs.EXTERNAL_BRIDGE, external_link)
    if vlan_link:
        ovs.add_bridge(ovs.VLAN_BRIDGE)
        procs.run(["ip", "link", "set", ovs.VLAN_BRIDGE, "up"])
        ovs.add_port(ovs.VLAN_BRIDGE, vlan_link)


def start_compute2(dashboard_url: str, mode: str = "dvr") -> None:
    """compute2's namespaces, wires, OVS, relay and agents for host mode `mode` (host 1's OVS must run)."""
    for directory in (NETNS_DIR, OVS_RUNDIR, OVS_DIR, STATE_PATH):
        directory.mkdir(parents=True, exist_ok=True)
    write_config(mode)
    procs.start(_holder())
    if not procs.wait_for(lambda: _holder_ready(), 10):
        raise RuntimeError(f"{HOLDER} did not come up; see {paths.LOG_DIR / f'{HOLDER}.log'}")
    pid = holder_pid()
    vlan = mode == "vlan"
    for host1_end, c2_end in (TUNNEL_LINKS, EXTERNAL_LINKS, *((VLAN_LINKS,) if vlan else ())):
        if not netns.link_exists(host1_end):
            procs.run(["ip", "link", "add", host1_end, "type", "veth", "peer", "name", c2_end, "netns", str(pid)])
    plug_host1(vlan)
    procs.start(_relay(dashboard_url))
    v = view(COMPUTE2)
    with procs.view(v):
        db = OVS_DIR / "conf.db"
        if not db.exists():
            procs.run(["ovsdb-tool", "create", str(db), str(ovs.SCHEMA)])
        server, switch = ovs_daemons()
        procs.start(server)
        if not procs.wait_for(ovs.socket_answers, 30):
            raise RuntimeError(f"{COMPUTE2}'s ovsdb-server did not answer; see {server.logfile}")
        ovs.vsctl("--no-wait", "init")
        procs.start(switch)
        _plug_phy(TUNNEL_IPS[COMPUTE2], TUNNEL_LINKS[1], EXTERNAL_LINKS[1], VLAN_LINKS[1] if vlan else None)
        for agent in agent_daemons(mode):
            procs.start(agent)
    log.info("%s up: holder %s, tunnel %s", COMPUTE2, pid, TUNNEL_IPS[COMPUTE2])


def _holder_ready() -> bool:
    pid = holder_pid()
    return pid is not None and Path(procs.cmdline(pid)[0]).name == "sleep"


def plug_host1(vlan: bool = False) -> None:
    """Host 1's side: br-phy with 10.0.1.11 (before its OVS agent starts with that local_ip); `vlan`: br-vlan
    with its end of the VLAN wire."""
    _plug_phy(TUNNEL_IPS[CONTROLLER], TUNNEL_LINKS[0], EXTERNAL_LINKS[0], VLAN_LINKS[0] if vlan else None)


def stop_compute2() -> None:
    """Everything of compute2, agents first; then host 1's ends of the wires and its br-phy."""
    procs.stop(*(d.name for d in agent_daemons()))
    neutron.clear_stale_state(STATE_PATH)
    if running():
        with procs.view(view(COMPUTE2)):
            for ns in netns.list_namespaces():
                netns.delete(ns)
            if procs.read_pid(f"{COMPUTE2}-ovsdb-server") is not None:
                ovs.vsctl("del-manager", check=False)
                for br in ovs.bridges():
                    ovs.vsctl("--if-exists", "del-br", br, check=False)
    procs.stop(*(d.name for d in reversed(ovs_daemons())))
    procs.stop(RELAY, HOLDER)
    # privsep helpers of compute2's agents leave their sessions: by their config path.
    procs.kill_orphans(ETC_DIR)
    procs.kill_orphans(DIR)
    unplug_host1()
    shutil.rmtree(DIR, ignore_errors=True)


def unplug_host1() -> None:
    if procs.read_pid("ovsdb-server") is not None:
        for link in LINKS:
            ovs.vsctl("--if-exists", "del-port", link, check=False)
        for bridge in BRIDGES:
            ovs.vsctl("--if-exists", "del-br", bridge, check=False)
    for link in LINKS:
        netns.delete_link(link)


def leftovers() -> list[str]:
    found = [f"link {link}" for link in netns.root_links() if link in (*LINKS, *BRIDGES)]
    if DIR.exists():
        found.append(f"dir {DIR}")
    return found
