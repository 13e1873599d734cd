"""The lab's entry points: up, down, status, ping. Plain functions, no Django.

    from lab import api
    api.up()                 # install if needed, start everything, build `allinone`
    api.status()             # dict: state.json + live daemons, agents, memory
    api.ping("cirros-01", "192.168.1.1", timeout=30)
    api.down()               # remove everything the lab made
"""

from __future__ import annotations

import datetime
import json
import logging
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from lab import database, firewall, install, keystone, netns, neutron, ovs, owner, paths, procs, rabbitmq, rest
from lab import vm as vms
from lab.scenarios import SCENARIOS

log = logging.getLogger(__name__)

State = dict[str, Any]


def daemon_names(state: State | None = None) -> list[str]:
    """The lab's daemons, and the VMs' DHCP clients when `state` has VMs."""
    vm_names = (state or {}).get("vms", {})
    return ["postgres", *(d.name for d in rabbitmq.daemons()), "keystone",
            *(d.name for d in ovs.daemons()), *(d.name for d in neutron.daemons()),
            *(vms.dhcp_client(name).name for name in vm_names)]


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
    return all(netns.exists(v["namespace"]) for v in state.get("vms", {}).values())


def _anything_running() -> bool:
    return bool(procs.daemon_pids()) or any(netns.LAB_NAMESPACE.match(n) for n in netns.list_namespaces())


def up(scenario: str = "allinone") -> State:
    """Bring the lab up with `scenario` built; a no-op when it already is.

    When another checkout's lab runs on this machine, borrow it (no-op too).
    """
    with owner.exclusive():
        other = owner.foreign()
        if other is not None:
            return _borrow(other, scenario)
        gone = owner.stale()
        if gone is not None:
            _kill_orphans(gone)
        owner.claim()
        return _up(scenario)


def down() -> float:
    """Remove everything the lab made (the virtualenvs, caches and logs stay). Returns seconds taken.

    Another checkout's lab is left alone: only this checkout's clouds.yaml goes.
    """
    with owner.exclusive():
        other = owner.foreign()
        if other is not None:
            log.warning("the lab running here belongs to %s: not taking it down", other)
            paths.CLOUDS_YAML.unlink(missing_ok=True)
            return 0.0
        elapsed = _down()
        owner.release()
        return elapsed


def _kill_orphans(gone: Path) -> None:
    """A checkout whose lab ran here was deleted with its lab up: end what it left running."""
    strays = rabbitmq.stray_epmds()
    procs.kill(strays)
    killed = [*procs.kill_orphans(gone), *strays]
    if killed:
        log.warning("killed %d processes of the lab of %s, which is gone", len(killed), gone)


def _borrow(other: Path, scenario: str) -> State:
    state = _read_json(other / "state.json")
    healthy = keystone.healthy() and neutron.api_answers()
    if state.get("status") != "up" or state.get("scenario") != scenario or not healthy:
        raise RuntimeError(
            f"the lab of {other} runs here (status {state.get('status')}, scenario {state.get('scenario')}): "
            f"take it down there first (python manage.py lab down)")
    log.info("lab of %s already up with scenario %s: using it", other, scenario)
    paths.LAB_DIR.mkdir(parents=True, exist_ok=True)
    keystone.write_clouds_yaml()  # this checkout's settings look for it under its own LAB_DIR
    return {**state, "clouds_yaml": str(paths.CLOUDS_YAML), "owner": str(other)}


def _up(scenario: str) -> State:
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
    if is_up(scenario):
        log.info("lab already up with scenario %s", scenario)
        return read_state()
    if _anything_running() or paths.STATE_FILE.exists():
        log.info("lab partly up or up with another scenario: taking it down first")
        _down()
    timings: dict[str, float] = {}
    t0 = last = time.monotonic()

    def lap(name: str) -> None:
        nonlocal last
        now = time.monotonic()
        timings[name] = round(now - last, 1)
        last = now

    install.install()
    lap("install")
    _rotate_logs()
    _write_state({"status": "starting", "scenario": scenario})
    try:
        _start_services()
        lap("services")
        neutron.start_server()
        lap("neutron_server")
        neutron.start_agents()
        neutron.wait_agents_alive(neutron.client(keystone.ADMIN))
        lap("agents")
        built = SCENARIOS[scenario]()
        lap("scenario")
    except Exception as e:
        _write_state({"status": "failed", "scenario": scenario, "error": str(e)})
        raise
    timings["total"] = round(time.monotonic() - t0, 1)
    state = {
        "status": "up",
        "scenario": scenario,
        "up_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "host": neutron.HOST,
        "region": keystone.REGION,
        "clouds_yaml": str(paths.CLOUDS_YAML),
        "clouds": sorted(keystone.CLOUDS),
        "keystone_url": rest.KEYSTONE_URL,
        "neutron_url": neutron.API_URL,
        "timings": timings,
        **built,
    }
    _write_state(state)
    log.info("lab up with scenario %s in %.1f s", scenario, timings["total"])
    return state


def _rotate_logs() -> None:
    """Keep the previous run's logs as *.log.1, so a fresh run starts with clean ones."""
    for f in paths.LOG_DIR.glob("*.log"):
        f.replace(f.with_suffix(".log.1"))


def _start_services() -> None:
    """PostgreSQL, RabbitMQ, Keystone and OVS do not depend on each other: start them together."""

    def identity() -> None:
        keystone.start()
        keystone.create_accounts()
        keystone.write_clouds_yaml()

    def neutron_database() -> None:
        database.start()
        neutron.create_schema()

    def timed(fn: Callable[[], None], name: str) -> None:
        t0 = time.monotonic()
        fn()
        log.info("%s ready in %.1f s", name, time.monotonic() - t0)

    paths.ensure_dirs()
    neutron.write_config()
    starters = {"database": neutron_database, "rabbitmq": rabbitmq.start, "keystone": identity, "ovs": ovs.start}
    with ThreadPoolExecutor(max_workers=len(starters)) as pool:
        for f in [pool.submit(timed, fn, name) for name, fn in starters.items()]:
            f.result()


def _down() -> float:
    t0 = time.monotonic()
    neutron.stop()
    # Deleting a VM's namespace ends its udhcpc and its veth pair; the qbr and
    # qvb/qvo links go below with the other port-named links.
    for ns in netns.list_namespaces():
        if netns.LAB_NAMESPACE.match(ns):
            netns.delete(ns)
    ovs.teardown()
    for link in netns.root_links():
        if netns.PORT_LINK.match(link) or link == ovs.OUTSIDE_PORT:
            netns.delete_link(link)
    firewall.cleanup()
    procs.stop("keystone")
    rabbitmq.stop()
    database.stop()
    procs.stop(*procs.daemon_pids())  # anything else a pidfile names
    procs.kill_strays()
    for d in (paths.RUN_DIR, paths.ETC_DIR):
        shutil.rmtree(d, ignore_errors=True)
    for f in (paths.STATE_FILE, paths.CLOUDS_YAML):
        f.unlink(missing_ok=True)
    elapsed = time.monotonic() - t0
    log.info("lab down in %.1f s", elapsed)
    return elapsed


def leftovers() -> list[str]:
    """What the lab would have left behind after `down()`: empty when the machine is clean."""
    found = [f"namespace {ns}" for ns in netns.list_namespaces() if netns.LAB_NAMESPACE.match(ns)]
    found += [f"link {link}" for link in netns.root_links()
              if netns.PORT_LINK.match(link) or link in (ovs.OUTSIDE_PORT, *ovs.LAB_BRIDGES)]
    if ovs.DB_SOCK.exists():
        found.append(f"socket {ovs.DB_SOCK}")
    if owner.OWNER_FILE.exists():
        found.append(f"file {owner.OWNER_FILE}")
    found += [f"process {pid}" for pid in [*procs.lab_processes(), *rabbitmq.stray_epmds()]]
    found += [f"pidfile {name}" for name in procs.daemon_pids()]
    found += [f"iptables {line}" for line in firewall.neutron_rules()]
    found += [f"ipset {name}" for name in firewall.neutron_ipsets()]
    return found


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
        "vm_addresses": {name: vms.address(name) for name in state.get("vms", {})},
        "memory_mb": {k: round(v / 2**20) for k, v in procs.memory_bytes(procs.lab_processes(run_dir)).items()},
    }
    return result


def _agents() -> list[dict[str, Any]]:
    if not neutron.api_answers():
        return []
    try:
        return [{"agent_type": a["agent_type"], "host": a["host"], "alive": a["alive"]}
                for a in neutron.agents(neutron.client(keystone.ADMIN))]
    except (rest.HttpError, OSError):
        return []


def namespace_of(name: str) -> str:
    """A VM name (`cirros-01`), `outside`, or a namespace name as is."""
    if netns.exists(name):
        return name
    return vms.namespace(name)


def ping(vm: str, target: str, timeout: float = 90.0) -> bool:
    """Ping `target` from VM `vm` (or `outside`), polling until a reply or `timeout`."""
    return vms.ping(namespace_of(vm), target, timeout)
