"""HA routers (scenario ha, issue 15): what Neutron says of them and what each host really has.

An HA router has a `qrouter-` namespace on each of its L3 agents' hosts, each with an `ha-` port on the
router's project's "HA network project <project id>" (device_owner `network:router_ha_interface`, an
address in 169.254.192.0/18). keepalived runs VRRP between them: the active (VRRP master) instance holds
the virtual addresses, the router's `qg-` and `qr-` addresses (interfaces
`network:ha_router_replicated_interface`) and 169.254.0.x on its `ha-`; the standby holds only its
`ha-` address. Neutron's `neutron-keepalived-state-change` (a /bin/sh script watching `ip monitor` in
the namespace) tells the L3 agent, which reports `ha_state` active/standby per agent to the server.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from lab import hosts, netns, neutron, procs, rest

HA_PORT_OWNER = "network:router_ha_interface"
HA_INTERFACE_OWNER = "network:ha_router_replicated_interface"
# Neutron 29 names it "HA network project <id>" (older releases: "HA network tenant <id>").
HA_NETWORK_PREFIX = "HA network project "
ACTIVE, STANDBY = "active", "standby"

Json = dict[str, object]


def ha_network_name(project_id: str) -> str:
    return f"{HA_NETWORK_PREFIX}{project_id}"


def state_path(host: str) -> Path:
    """The L3 agent's state_path on `host` (its ha_confs/ hold keepalived's files)."""
    return neutron.STATE_PATH if host == hosts.CONTROLLER else hosts.STATE_PATH


def ha_states(admin: rest.Client, router_id: str) -> dict[str, str]:
    """Host -> ha_state (active, standby, unknown) of the L3 agents hosting the router, as Neutron says."""
    agents = admin.get(f"/v2.0/routers/{router_id}/l3-agents")["agents"]
    return {a["host"]: a.get("ha_state") or "unknown" for a in agents}


def active_host(states: dict[str, str]) -> str | None:
    """The one host Neutron says is active; None when none or several are."""
    active = [h for h, s in states.items() if s == ACTIVE]
    return active[0] if len(active) == 1 else None


def one_active_one_standby(states: dict[str, str]) -> bool:
    return sorted(states.values()) == [ACTIVE, STANDBY]


def wait_one_active(admin: rest.Client, router_id: str, timeout: float = 120) -> dict[str, str]:
    """Until Neutron reports the router active on one agent and standby on the other."""
    if not procs.wait_for(lambda: one_active_one_standby(ha_states(admin, router_id)), timeout, interval=0.5):
        raise RuntimeError(f"router {router_id}: ha_state {ha_states(admin, router_id)} after {timeout:.0f} s")
    return ha_states(admin, router_id)


def ha_ports(admin: rest.Client, router_id: str) -> list[rest.Json]:
    return list(admin.get(f"/v2.0/ports?device_id={router_id}&device_owner={HA_PORT_OWNER}")["ports"])


def addresses(host: str, namespace: str) -> dict[str, list[str]]:
    """Device -> its IPv4 addresses (CIDR) in `namespace` on `host`."""
    with procs.view(hosts.view(host)):
        out = netns.ip(namespace, "-j", "-4", "addr", "show")
    return {
        link["ifname"]: [f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", [])]
        for link in json.loads(out or "[]")
    }


def holds_vips(host: str, namespace: str) -> bool:
    """Whether the router's instance on `host` holds its qg- and qr- addresses (the VRRP master's VIPs)."""
    found = addresses(host, namespace)
    return all(any(dev.startswith(p) and found[dev] for dev in found) for p in ("qg-", "qr-"))


def tx_packets(host: str, namespace: str, prefix: str = "qg-") -> int:
    """Packets sent by the namespace's device named `prefix`... (its kernel counter)."""
    with procs.view(hosts.view(host)):
        out = netns.ip(namespace, "-j", "-s", "link", "show")
    links = [link for link in json.loads(out or "[]") if link["ifname"].startswith(prefix)]
    if len(links) != 1:
        raise RuntimeError(f"{namespace} on {host}: {len(links)} devices {prefix}*")
    return int(links[0]["stats64"]["tx"]["packets"])


def keepalived_pid(host: str, router_id: str) -> int | None:
    """The main keepalived process of the router on `host` (its `-p` pid file: ha_confs/<id>.pid.keepalived)."""
    pidfile = state_path(host) / "ha_confs" / f"{router_id}.pid.keepalived"
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if procs.pid_alive(pid) and "keepalived" in Path(procs.cmdline(pid)[0]).name else None


def stop_keepalived(host: str, router_id: str) -> int:
    """SIGTERM the router's keepalived on `host`: it drops its VIPs and sends a priority-0 advertisement,
    so the standby takes over. The L3 agent's process monitor respawns it later (as a backup). The pid."""
    pid = keepalived_pid(host, router_id)
    if pid is None:
        raise RuntimeError(f"no keepalived of router {router_id} on {host}")
    os.kill(pid, signal.SIGTERM)
    return pid


# A split brain made for real: each instance's qrouter- drops the VRRP advertisements (IP protocol 112) coming
# in on its ha- device, so each keepalived believes the other gone and becomes master.
VRRP_DROP = ("INPUT", "-i", "ha-+", "-p", "vrrp", "-j", "DROP")


def _iptables(host: str, namespace: str, *args: str) -> int:
    with procs.view(hosts.view(host)):
        return netns.execute(namespace, "iptables", "-w", *args, timeout=30).returncode


def drop_vrrp(host: str, namespace: str) -> None:
    if _iptables(host, namespace, "-I", *VRRP_DROP) != 0:
        raise RuntimeError(f"iptables -I {' '.join(VRRP_DROP)} failed in {namespace} on {host}")


def allow_vrrp(host: str, namespace: str) -> None:
    """Take every VRRP drop rule of :func:`drop_vrrp` out again (none left: -C fails)."""
    while _iptables(host, namespace, "-C", *VRRP_DROP) == 0:
        _iptables(host, namespace, "-D", *VRRP_DROP)


def vrrp_dropped(host: str, namespace: str) -> bool:
    return _iptables(host, namespace, "-C", *VRRP_DROP) == 0


def vip_holders(router_hosts: list[str], namespace: str) -> list[str]:
    """The hosts whose instance holds the router's VIPs now (one: healthy; none or two: broken)."""
    return [h for h in router_hosts if holds_vips(h, namespace)]
