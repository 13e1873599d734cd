"""`lab status`: state.json plus what runs now: daemons, agents, hosts, VM addresses, memory."""

from __future__ import annotations

from typing import Any

from lab import (
    hosts,
    keystone,
    neutron,
    nodeagent,
    owner,
    paths,
    procs,
    rest,
)
from lab import vm as vms
from lab.scenarios import SCENARIOS
from lab.state import State, daemon_names, read_state


def status() -> State:
    """state.json plus what runs now: daemons, agents, VM addresses, memory."""
    other = owner.foreign()
    state = read_state()
    run_dir = other / "run" if other else None
    running = procs.daemon_pids(run_dir)
    services = {name: {"pid": running.get(name), "alive": name in running} for name in daemon_names(state)}
    result: State = {
        **state,
        "owner": str(other or paths.LAB_DIR),
        "status": state.get("status", "down"),
        "clouds_yaml": str(paths.CLOUDS_YAML) if paths.CLOUDS_YAML.exists() else None,
        "services": services,
        "agents": _agents(),
        "lab_hosts": _hosts(state, running),
        "scenarios": sorted(SCENARIOS),
        "vm_addresses": {name: _vm_address(name, v) for name, v in state.get("vms", {}).items()},
        "memory_mb": {k: round(v / 2**20) for k, v in procs.memory_bytes(procs.lab_processes(run_dir)).items()},
    }
    return result


def _hosts(state: State, running: dict[str, int]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for host, info in (state.get("hosts") or ({hosts.CONTROLLER: {}} if state else {})).items():
        alive = host == hosts.CONTROLLER or hosts.HOLDER in running
        result[host] = {
            **info,
            "alive": alive,
            "node_agent": {
                "running": nodeagent.name(host) in running,
                "token_file": nodeagent.token_file(host).exists(),
            },
        }
    return result


def _vm_address(name: str, v: State) -> str | None:
    try:
        with procs.view(hosts.view(v.get("host", hosts.CONTROLLER))):
            return vms.address(name)
    except RuntimeError:
        return None


def _agents() -> list[dict[str, Any]]:
    if not neutron.api_answers():
        return []
    try:
        return [
            {"agent_type": a["agent_type"], "host": a["host"], "alive": a["alive"]}
            for a in neutron.agents(neutron.client(keystone.ADMIN))
        ]
    except (rest.HttpError, OSError):
        return []
