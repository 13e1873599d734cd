"""The lab's state.json and its health: which daemons a scenario runs, whether it is up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lab import (
    hosts,
    keystone,
    netns,
    neutron,
    ovs,
    owner,
    paths,
    procs,
    rabbitmq,
)
from lab import vm as vms
from lab.scenarios import host_mode

State = dict[str, Any]


def daemon_names(state: State | None = None) -> list[str]:
    """The lab's daemons for the host mode of `state`'s scenario (compute2's when `state` has that host),
    and the VMs' DHCP clients."""
    vm_names = (state or {}).get("vms", {})
    mode = host_mode((state or {}).get("scenario", ""))
    second = hosts.daemon_names(mode) if hosts.COMPUTE2 in (state or {}).get("hosts", {}) else []
    return [
        "postgres",
        *(d.name for d in rabbitmq.daemons()),
        "keystone",
        *(d.name for d in ovs.daemons()),
        *(d.name for d in neutron.daemons(mode)),
        *second,
        *(vms.dhcp_client(name).name for name in vm_names),
    ]


def _base_names() -> list[str]:
    """What a scenario switch keeps running: database, RabbitMQ, Keystone, OVS, Neutron's server."""
    return [
        "postgres",
        *(d.name for d in rabbitmq.daemons()),
        "keystone",
        *(d.name for d in ovs.daemons()),
        *(d.name for d in neutron.server_daemons()),
    ]


def _read_json(path: Path) -> State:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return {}


def read_state() -> State:
    """This checkout's state.json, or the running lab's when another checkout owns it."""
    other = owner.foreign()
    return _read_json((other or paths.LAB_DIR) / "state.json")


def _write_state(state: State) -> None:
    paths.LAB_DIR.mkdir(parents=True, exist_ok=True)
    tmp = paths.STATE_FILE.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    tmp.replace(paths.STATE_FILE)


def is_up(scenario: str = "allinone") -> bool:
    """Up and healthy with `scenario` built: daemons alive, APIs answer, VMs plugged."""
    state = read_state()
    if state.get("status") != "up" or state.get("scenario") != scenario:
        return False
    running = procs.daemon_pids()
    if any(name not in running for name in daemon_names(state)):
        return False
    if not (keystone.healthy() and neutron.api_answers()):
        return False
    return all(_vm_plugged(v) for v in state.get("vms", {}).values())


def _vm_plugged(v: State) -> bool:
    try:
        with procs.view(hosts.view(v.get("host", hosts.CONTROLLER))):
            return netns.exists(v["namespace"])
    except RuntimeError:  # its host is not running
        return False


def _anything_running() -> bool:
    return bool(procs.daemon_pids()) or any(netns.LAB_NAMESPACE.match(n) for n in netns.list_namespaces())


def _base_healthy() -> bool:
    running = procs.daemon_pids()
    return all(n in running for n in _base_names()) and keystone.healthy() and neutron.api_answers()
