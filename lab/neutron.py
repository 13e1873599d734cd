"""Neutron: configuration, schema, and the server and agent daemons.

Neutron 29 has no neutron-server: the API runs under uwsgi, with
neutron-rpc-server and neutron-periodic-workers as separate processes. The
agents (OVS, L3, DHCP) run as root without sudo: privsep helpers are started
directly (`[agent] root_helper =` empty).
"""

from __future__ import annotations

import datetime
import signal
from pathlib import Path

from lab import database, keystone, metadata, ovs, paths, procs, rabbitmq, rest
from lab.neutron_config import (  # noqa: F401 (re-exported: importers use lab.neutron)
    API_URL,
    CONF,
    DHCP_AGENT,
    DHCP_AGENT_CONF,
    DNSMASQ,
    DNSMASQ_CONF,
    ETC_DIR,
    HOST,
    L3_AGENT_CONF,
    L3_HA,
    ML2,
    ML2_CONF,
    OVS_AGENT_CONF,
    OVS_SECTION,
    PRIVSEP_SECTIONS,
    STATE_PATH,
    UWSGI,
    UWSGI_INI,
    VENV,
    VLAN_TYPES,
    _bin,
    dhcp_agent_conf,
    l3_agent_conf,
    l3_agent_env,
    metadata_dhcp_options,
    metadata_l3_options,
    ml2_conf,
    neutron_conf,
    notifications_conf,
    notifications_on,
    ovs_agent_conf,
)
from lab.procs import Daemon

# Agents time out on RPC if they start before the rpc-server consumes these.
RPC_QUEUES = ("q-plugin", "q-reports-plugin", "q-l3-plugin")
AGENT_TYPES = ("Open vSwitch agent", "L3 agent", "DHCP agent", metadata.AGENT_TYPE)
# A graceful stop saves nothing the lab needs (the database goes too), and the
# OVS agent ignores SIGTERM for 20 s and more, the rpc-server for 15 s.
STOP_GRACE = 3.0


def enable_notifications() -> bool:
    """Turn notifications on in a running lab written before they were (a lab up writes them anyway):
    the account, the configuration, and the API restarted (the process that emits them). True if it was."""
    rabbitmq.ensure_notifications_account()
    if notifications_on():
        return False
    write_config(host_mode())
    procs.stop("neutron-api")
    procs.start(server_daemons()[0])
    if not procs.wait_for(api_answers, 120, interval=0.5):
        raise RuntimeError(f"neutron-api did not answer; see {paths.LOG_DIR / 'neutron-api.log'}")
    return True


# --------------------------------------------------------------------------- metadata (lab/metadata.py)
# The L3 agent's metadata proxy and the DHCP agent's isolated metadata, served by Neutron's
# metadata agent (started with the agents above) and lab/metadata.py's stand-in for Nova.

AGENT_OF_DAEMON = {
    "neutron-openvswitch-agent": "Open vSwitch agent",
    "neutron-l3-agent": "L3 agent",
    "neutron-dhcp-agent": "DHCP agent",
    metadata.AGENT_NAME: metadata.AGENT_TYPE,
}


def write_metadata_config() -> set[str]:
    """Host 1's agents' files with the metadata settings (the L3 agent's mode kept); the names of the
    daemons whose file changed (to restart)."""
    files = {
        L3_AGENT_CONF: ("neutron-l3-agent", l3_agent_conf(agent_mode(), with_metadata=True)),
        DHCP_AGENT_CONF: ("neutron-dhcp-agent", DHCP_AGENT),
        **{path: (metadata.AGENT_NAME, text) for path, text in metadata.config_files().items()},
    }
    changed = set()
    for path, (daemon, text) in files.items():
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            changed.add(daemon)
    return changed


# Host 1's tunnel address when compute2 runs (scenarios dvr, netnode, ha and vlan; on br-phy, see lab/hosts.py).
DVR_LOCAL_IP = "10.0.1.11"
SERVER_FILES = (CONF, ML2_CONF, UWSGI_INI)
# Host modes (lab/scenarios/__init__.py): legacy, dvr, netnode, ha, vlan.
MODES = ("legacy", "dvr", "netnode", "ha", "vlan")
# In mode netnode host 1 is a compute node only: its OVS agent (and the metadata stand-in for Nova,
# which compute2's agents reach through the relay); the L3 and DHCP agents run on compute2.
NETNODE_ONLY_ON_COMPUTE2 = ("neutron-l3-agent", "neutron-dhcp-agent")


def ovs_conf_of(mode: str) -> str:
    if mode == "dvr":
        return ovs_agent_conf(DVR_LOCAL_IP, dvr=True)
    # netnode and ha: tunnels over br-phy without DVR (and without l2population: the HA network's VRRP
    # multicast is flooded to every tunnel).
    # vlan: the same, with physnet1 mapped to br-vlan (the project networks are VLANs, not tunnelled).
    if mode == "vlan":
        return ovs_agent_conf(DVR_LOCAL_IP, vlan=True)
    return ovs_agent_conf(DVR_LOCAL_IP) if mode in ("netnode", "ha") else ovs_agent_conf()


def write_config(mode: str = "legacy") -> bool:
    """Write host 1's configuration for host mode `mode`; True when the server's part changed (a running
    server needs a restart)."""
    if mode not in MODES:
        raise ValueError(f"unknown host mode {mode!r}; known: {', '.join(MODES)}")
    ML2_CONF.parent.mkdir(parents=True, exist_ok=True)
    (STATE_PATH / "lock").mkdir(parents=True, exist_ok=True)
    files = {
        CONF: neutron_conf(ha=mode == "ha", vlan=mode == "vlan"),
        ML2_CONF: ml2_conf(vlan=mode == "vlan"),
        OVS_AGENT_CONF: ovs_conf_of(mode),
        L3_AGENT_CONF: l3_agent_conf("dvr_snat" if mode == "dvr" else "legacy", with_metadata=True),
        DHCP_AGENT_CONF: DHCP_AGENT,
        DNSMASQ_CONF: DNSMASQ,
        UWSGI_INI: UWSGI,
        **metadata.config_files(),
    }
    changed = False
    for path, text in files.items():
        old = path.read_text() if path.exists() else None
        if old != text:
            changed = changed or path in SERVER_FILES
            path.write_text(text)
    return changed


def agent_mode() -> str:
    """Host 1's L3 agent mode as configured now (legacy or dvr_snat)."""
    try:
        text = L3_AGENT_CONF.read_text()
    except OSError:
        return "legacy"
    return "dvr_snat" if "agent_mode = dvr_snat" in text else "legacy"


def host_mode() -> str:
    """Host 1's host mode as configured now: dvr (its L3 agent dvr_snat), ha (the server's HA routers), vlan
    (ML2's project networks VLANs),
    netnode (a legacy L3 agent's file but the tunnel on br-phy: compute2 is the network node) or legacy."""
    if agent_mode() == "dvr_snat":
        return "dvr"
    if l3_ha_configured():
        return "ha"
    if vlan_configured():
        return "vlan"
    try:
        text = OVS_AGENT_CONF.read_text()
    except OSError:
        return "legacy"
    return "netnode" if f"local_ip = {DVR_LOCAL_IP}" in text else "legacy"


def l3_ha_configured() -> bool:
    """Whether the server's neutron.conf makes routers HA (host mode ha)."""
    try:
        return L3_HA in CONF.read_text().splitlines()
    except OSError:
        return False


def vlan_configured() -> bool:
    """Whether the server's ML2 makes project networks VLANs (host mode vlan)."""
    try:
        return VLAN_TYPES in ML2_CONF.read_text().splitlines()
    except OSError:
        return False


def clear_stale_state(state_path: Path = STATE_PATH) -> None:
    """The L3 agent's DVR bookkeeping breaks its next run when left behind."""
    for name in ("fip-priorities", "fip-linklocal-networks"):
        (state_path / name).unlink(missing_ok=True)


def create_schema() -> None:
    """Schema from the models and stamped heads (see scripts/neutron_db_init.py)."""
    if database.psql("SELECT 1 FROM pg_tables WHERE tablename = 'alembic_version'", db=database.DB_NAME).strip():
        return
    script = Path(__file__).parent / "scripts" / "neutron_db_init.py"
    procs.run([_bin("python"), "-P", str(script), database.URL])


def _server_args() -> list[str]:
    return ["--config-file", str(CONF), "--config-file", str(ML2_CONF)]


def server_daemons() -> list[Daemon]:
    # uwsgi's own `env =` does not reach Python: the variables go in its environment.
    api_env = {
        "OS_NEUTRON_CONFIG_DIR": str(ETC_DIR),
        "OS_NEUTRON_CONFIG_FILES": f"{CONF.name};{ML2_CONF.relative_to(ETC_DIR)}",
        "UWSGI_INI": str(UWSGI_INI),
    }
    return [
        # No arguments: oslo.config parses sys.argv.
        # SIGINT: uwsgi's immediate shutdown (its SIGTERM is a graceful reload).
        Daemon(
            "neutron-api",
            [_bin("uwsgi")],
            env=api_env,
            cwd=STATE_PATH,
            stop_signal=signal.SIGINT,
            stop_grace=STOP_GRACE,
        ),
        Daemon(
            "neutron-rpc-server", [_bin("neutron-rpc-server"), *_server_args()], cwd=STATE_PATH, stop_grace=STOP_GRACE
        ),
        Daemon(
            "neutron-periodic-workers",
            [_bin("neutron-periodic-workers"), *_server_args()],
            cwd=STATE_PATH,
            stop_grace=STOP_GRACE,
        ),
    ]


def agent_daemons(mode: str | None = None) -> list[Daemon]:
    """Host 1's agents in host mode `mode` (None: as configured now); legacy, dvr and ha: all of them."""
    mode = host_mode() if mode is None else mode

    def agent(name: str, conf: Path) -> Daemon:
        return Daemon(
            name,
            [_bin(name), "--config-file", str(CONF), "--config-file", str(conf)],
            env=l3_agent_env() if name == "neutron-l3-agent" else {},
            cwd=STATE_PATH,
            stop_grace=STOP_GRACE,
        )

    every = [
        agent("neutron-openvswitch-agent", OVS_AGENT_CONF),
        agent("neutron-l3-agent", L3_AGENT_CONF),
        agent("neutron-dhcp-agent", DHCP_AGENT_CONF),
        *metadata.daemons(CONF, STATE_PATH),
    ]
    if mode == "netnode":
        return [d for d in every if d.name not in NETNODE_ONLY_ON_COMPUTE2]
    return every


def daemons(mode: str = "legacy") -> list[Daemon]:
    """The server's and host 1's agents in host mode `mode` (legacy: every one, to stop them)."""
    return [*server_daemons(), *agent_daemons(mode)]


def api_answers() -> bool:
    """Up behind Keystone: an unauthenticated request gets 401."""
    return rest.status_of(f"{API_URL}/v2.0/networks") == 401


def start_server() -> None:
    """Start API, rpc-server and periodic workers (config and schema must exist)."""
    for d in server_daemons():
        procs.start(d)
    if not procs.wait_for(api_answers, 120, interval=0.5):
        raise RuntimeError(f"neutron-api did not answer; see {paths.LOG_DIR / 'neutron-api.log'}")
    if not procs.wait_for(lambda: rabbitmq.queues_consumed(RPC_QUEUES), 120, interval=1):
        raise RuntimeError("neutron-rpc-server did not consume its queues")


def start_agents(mode: str = "legacy") -> None:
    for d in agent_daemons(mode):
        procs.start(d)


def agent_types(mode: str) -> tuple[str, ...]:
    """The agent types host 1 reports in host mode `mode`."""
    return tuple(AGENT_OF_DAEMON[d.name] for d in agent_daemons(mode) if d.name in AGENT_OF_DAEMON)


def client(account: keystone.Account) -> rest.Client:
    """A session on Neutron's API, scoped to the account's project."""
    return rest.Client.login(API_URL, account.username, account.password, account.project)


def agents(admin: rest.Client) -> list[rest.Json]:
    return list(admin.get("/v2.0/agents")["agents"])


def agents_alive(
    admin: rest.Client, host: str = HOST, types: tuple[str, ...] = AGENT_TYPES, started_after: str = ""
) -> bool:
    """All `types` of `host` alive; with `started_after` ("YYYY-MM-DD HH:MM:SS", UTC), started since then
    (an agent stopped a moment ago still counts as alive for agent_down_time)."""
    alive = {
        a["agent_type"]
        for a in agents(admin)
        if a["alive"] and a["host"] == host and (a.get("started_at") or "") >= started_after
    }
    return all(t in alive for t in types)


def now_utc() -> str:
    """The server's timestamp format, for `started_after`."""
    return (datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S")


def wait_agents_alive(
    admin: rest.Client,
    timeout: float = 120,
    host: str = HOST,
    types: tuple[str, ...] = AGENT_TYPES,
    started_after: str = "",
) -> None:
    if not procs.wait_for(lambda: agents_alive(admin, host, types, started_after), timeout, interval=1):
        raise RuntimeError(f"{host}'s agents not alive after {timeout:.0f} s: {agents(admin)}")
    # The OVS agent reports before it has made its bridges.
    if not procs.wait_for(lambda: {ovs.INTEGRATION_BRIDGE, ovs.TUNNEL_BRIDGE} <= set(ovs.bridges()), 60):
        raise RuntimeError(f"{host}'s OVS agent made no {ovs.INTEGRATION_BRIDGE}/{ovs.TUNNEL_BRIDGE}")


def delete_agents(admin: rest.Client, host: str, types: tuple[str, ...] = ()) -> None:
    """Forget a host's agents (a stopped compute2 would linger as dead agents), or only those of `types`
    (host 1's L3 and DHCP agents in mode netnode: alive for agent_down_time after they stop, the
    schedulers would pick them)."""
    for a in agents(admin):
        if a["host"] == host and (not types or a["agent_type"] in types):
            admin.delete(f"/v2.0/agents/{a['id']}")


def stop_agents() -> None:
    procs.stop(*(d.name for d in agent_daemons("legacy")))
    clear_stale_state()


def stop_server() -> None:
    procs.stop(*(d.name for d in server_daemons()))


def stop() -> None:
    procs.stop(*(d.name for d in daemons()))
    clear_stale_state()
