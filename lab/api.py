"""The lab's entry points: up, scenario, down, status, ping, exec. Plain functions, no Django.

    from lab import api
    api.up()                 # install if needed, start everything, build `allinone`
    api.up("dvr")            # on a running lab: switch scenarios (services stay up)
    api.status()             # dict: state.json + live daemons, agents, memory
    api.ping("cirros-01", "192.168.1.1", timeout=30)   # in the VM's host's view
    api.run_on("compute2", ["ip", "netns"])           # a command in a host's view
    api.down()               # remove everything the lab made (host 1's agents, then compute2)
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from lab import (
    database,
    firewall,
    hosts,
    install,
    keystone,
    netns,
    neutron,
    nodeagent,
    ovs,
    owner,
    paths,
    procs,
    rabbitmq,
    rest,
)
from lab import vm as vms
from lab.scenarios import SCENARIOS, needs_dvr

log = logging.getLogger(__name__)

State = dict[str, Any]


def daemon_names(state: State | None = None) -> list[str]:
    """The lab's daemons (compute2's when `state` has that host), and the VMs' DHCP clients."""
    vm_names = (state or {}).get("vms", {})
    second = hosts.daemon_names() if hosts.COMPUTE2 in (state or {}).get("hosts", {}) else []
    return ["postgres", *(d.name for d in rabbitmq.daemons()), "keystone",
            *(d.name for d in ovs.daemons()), *(d.name for d in neutron.daemons()), *second,
            *(vms.dhcp_client(name).name for name in vm_names)]


def _base_names() -> list[str]:
    """What a scenario switch keeps running: database, RabbitMQ, Keystone, OVS, Neutron's server."""
    return ["postgres", *(d.name for d in rabbitmq.daemons()), "keystone",
            *(d.name for d in ovs.daemons()), *(d.name for d in neutron.server_daemons())]


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


def up(scenario: str = "allinone", adopt: bool = False) -> State:
    """Bring the lab up with `scenario` built; a no-op when it already is.

    When another checkout's lab runs on this machine: owner.ForeignLab (which
    says how to take it down or adopt it), or, with `adopt`, use it as it is.
    """
    with owner.exclusive():
        other = owner.adoptable(adopt)
        if other is not None:
            return _borrow(other, scenario)
        gone = owner.stale()
        if gone is not None:
            _kill_orphans(gone)
        owner.claim()
        state = _up(scenario)
        _start_node_agents(state)
        return state


def switch(scenario: str, adopt: bool = False) -> State:
    """`lab scenario NAME`: build `scenario` on the running lab (up() does the same)."""
    if read_state().get("status") != "up":
        raise RuntimeError("the lab is not up: python manage.py lab up --scenario " + scenario)
    return up(scenario, adopt=adopt)


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
    # Its PostgreSQL names only its shared dir (-D, the socket) on its command line.
    killed = [*procs.kill_orphans(gone, paths.shared_dir(gone)), *strays]
    paths.remove_shared_dir(gone)
    if killed:
        log.warning("killed %d processes of the lab of %s, which is gone", len(killed), gone)


def _borrow(other: Path, scenario: str) -> State:
    state = _read_json(other / "state.json")
    healthy = keystone.healthy() and neutron.api_answers()
    if state.get("status") != "up" or state.get("scenario") != scenario or not healthy:
        raise RuntimeError(
            f"the lab of {other} runs here (status {state.get('status')}, scenario {state.get('scenario')}): "
            f"take it down there first (python manage.py lab down)")
    log.warning("adopted the lab of %s (scenario %s): it stays that checkout's", other, scenario)
    paths.LAB_DIR.mkdir(parents=True, exist_ok=True)
    keystone.write_clouds_yaml()  # this checkout's settings look for it under its own LAB_DIR
    return {**state, "clouds_yaml": str(paths.CLOUDS_YAML), "owner": str(other)}


def _up(scenario: str) -> State:
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
    if is_up(scenario):
        log.info("lab already up with scenario %s", scenario)
        return read_state()
    old = read_state()
    if old.get("status") == "up" and _base_healthy():
        try:
            return _switch(old, scenario)
        except Exception:
            log.exception("switching from %s to %s failed: starting afresh", old.get("scenario"), scenario)
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
        _start_services(needs_dvr(scenario))
        lap("services")
        neutron.start_server()
        lap("neutron_server")
        _start_agents(needs_dvr(scenario))
        lap("agents")
        built = SCENARIOS[scenario]()
        lap("scenario")
    except Exception as e:
        _write_state({"status": "failed", "scenario": scenario, "error": str(e)})
        raise
    return _finish(scenario, built, timings, t0)


def _finish(scenario: str, built: State, timings: dict[str, float], t0: float) -> State:
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


def _base_healthy() -> bool:
    running = procs.daemon_pids()
    return all(n in running for n in _base_names()) and keystone.healthy() and neutron.api_answers()


def _start_agents(dvr: bool) -> None:
    """compute2 first (scenario dvr), then host 1's agents; wait until all report alive."""
    since = neutron.now_utc()
    if dvr:
        hosts.start_compute2(nodeagent.URL)
    neutron.start_agents()
    admin = neutron.client(keystone.ADMIN)
    neutron.wait_agents_alive(admin, started_after=since)
    if dvr:
        with procs.view(hosts.view(hosts.COMPUTE2)):
            neutron.wait_agents_alive(admin, host=hosts.COMPUTE2, types=hosts.AGENT_TYPES, started_after=since)


def _switch(old: State, scenario: str) -> State:
    """From the running scenario to another: the services stay, the old scenario's resources go,
    and the agents restart only when the mode changes (legacy on one host <-> dvr on two)."""
    log.info("switching scenario %s -> %s", old.get("scenario"), scenario)
    timings: dict[str, float] = {}
    t0 = last = time.monotonic()

    def lap(name: str) -> None:
        nonlocal last
        now = time.monotonic()
        timings[name] = round(now - last, 1)
        last = now

    _write_state({**old, "status": "switching", "scenario": scenario, "previous_scenario": old.get("scenario")})
    procs.stop(*nodeagent.all_names())
    _clear_scenario(old)
    if netns.exists(ovs.OUTSIDE_NS):
        # The next scenario's gateways and FIPs reuse addresses with new MACs.
        procs.run(["ip", "-n", ovs.OUTSIDE_NS, "neigh", "flush", "all"], check=False)
    lap("clear")
    dvr = needs_dvr(scenario)
    running = procs.daemon_pids()
    host1_ok = all(d.name in running for d in neutron.agent_daemons())
    compute2_ok = all(n in running for n in hosts.daemon_names())
    if (dvr != (neutron.agent_mode() == "dvr_snat") or not host1_ok or (dvr and not compute2_ok)
            or (not dvr and hosts.running())):
        _restart_agents(dvr)
        lap("agents")
    built = SCENARIOS[scenario]()
    lap("scenario")
    state = _finish(scenario, built, timings, t0)
    state["switched_from"] = old.get("scenario")
    _write_state(state)
    return state


def _clear_scenario(old: State) -> None:
    """Unplug the VMs (on their hosts) and delete every Neutron resource but the public network."""
    for name, v in old.get("vms", {}).items():
        try:
            with procs.view(hosts.view(v.get("host", hosts.CONTROLLER))):
                vms.unplug(name, v.get("port_id"))
        except RuntimeError as e:
            log.warning("could not unplug %s: %s", name, e)
    procs.stop(*(n for n in procs.daemon_pids() if n.startswith("udhcpc-")))
    reset_neutron(neutron.client(keystone.ADMIN))


def reset_neutron(admin: rest.Client) -> None:
    """Floating IPs, routers (interfaces first), VM ports, networks: all but `public` and its subnet.

    A failed delete is logged, not raised: the next scenario's `_ensure` reuses what is left by name.
    """
    def delete(path: str) -> None:
        try:
            admin.delete(path)
        except rest.HttpError as e:
            log.warning("DELETE %s: %s", path, e)

    for fip in admin.get("/v2.0/floatingips")["floatingips"]:
        delete(f"/v2.0/floatingips/{fip['id']}")
    for router in admin.get("/v2.0/routers")["routers"]:
        for port in admin.get(f"/v2.0/ports?device_id={router['id']}")["ports"]:
            if port["device_owner"].startswith("network:router_interface"):
                try:
                    admin.put(f"/v2.0/routers/{router['id']}/remove_router_interface", {"port_id": port["id"]})
                except rest.HttpError as e:
                    log.warning("removing interface %s of router %s: %s", port["id"], router["id"], e)
        delete(f"/v2.0/routers/{router['id']}")
    for port in admin.get("/v2.0/ports?device_owner=compute:nova")["ports"]:
        delete(f"/v2.0/ports/{port['id']}")
    for net in admin.get("/v2.0/networks")["networks"]:
        public = net["name"] == "public" and net.get("router:external")
        # On public, what DVR leaves: the hosts' floatingip_agent_gateway (fg-) ports.
        for port in admin.get(f"/v2.0/ports?network_id={net['id']}")["ports"]:
            if not port["device_owner"].startswith("network:dhcp"):
                delete(f"/v2.0/ports/{port['id']}")
        if not public:
            delete(f"/v2.0/networks/{net['id']}")


def _restart_agents(dvr: bool) -> None:
    """Stop host 1's agents, then compute2; clean the data plane; start in the new mode."""
    neutron.stop_agents()
    procs.kill([p for p in procs.lab_processes() if _is_agent_helper(p)])
    if hosts.running() or procs.daemon_pids().keys() & set(hosts.daemon_names()):
        hosts.stop_compute2()
    _clean_host1_dataplane()
    admin = neutron.client(keystone.ADMIN)
    if not dvr:
        neutron.delete_agents(admin, hosts.COMPUTE2)
    # Tunnel endpoints: each agent registers its own again on start (host 1's local_ip changes).
    database.psql("DELETE FROM ml2_vxlan_endpoints", db=database.DB_NAME)
    if neutron.write_config(dvr):
        log.info("Neutron's server configuration changed: restarting it")
        neutron.stop_server()
        neutron.start_server()
    _start_agents(dvr)


def _is_agent_helper(pid: int) -> bool:
    """privsep helpers and dnsmasq of host 1's agents (they leave the agents' sessions)."""
    argv = procs.cmdline(pid)
    return any(Path(a).name in ("privsep-helper", "dnsmasq") for a in argv[:2])


def _clean_host1_dataplane() -> None:
    """What host 1's stopped agents leave: their namespaces, br-int/br-tun, links, iptables, ipsets."""
    for ns in netns.list_namespaces():
        if netns.LAB_NAMESPACE.match(ns) and ns != ovs.OUTSIDE_NS:
            netns.delete(ns)
    hosts.unplug_host1()
    ovs.vsctl("del-manager", check=False)
    for br in ovs.bridges():
        ovs.vsctl("--if-exists", "del-br", br, check=False)
    # br-ex again, with the outside host's port: the agents set up the rest.
    ovs.add_bridge(ovs.EXTERNAL_BRIDGE)
    procs.run(["ip", "link", "set", ovs.EXTERNAL_BRIDGE, "up"])
    ovs.plug_outside()
    for link in netns.root_links():
        if netns.PORT_LINK.match(link) or netns.DVR_LINK.match(link):
            netns.delete_link(link)
    firewall.cleanup()


def _start_node_agents(state: State) -> None:
    """The dashboard's node agent on every host, where a token file exists."""
    if state.get("status") != "up" or owner.foreign() is not None:
        return
    for host, info in state.get("hosts", {hosts.CONTROLLER: {}}).items():
        tunnel = info.get("tunnel_ip") if host == hosts.COMPUTE2 or needs_dvr(state.get("scenario", "")) else None
        try:
            nodeagent.start(host, tunnel)
        except RuntimeError as e:
            log.warning("node agent of %s not started: %s", host, e)


def _start_services(dvr: bool = False) -> None:
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
    neutron.write_config(dvr)
    starters = {"database": neutron_database, "rabbitmq": rabbitmq.start, "keystone": identity, "ovs": ovs.start}
    with ThreadPoolExecutor(max_workers=len(starters)) as pool:
        for f in [pool.submit(timed, fn, name) for name, fn in starters.items()]:
            f.result()


def _down() -> float:
    t0 = time.monotonic()
    procs.stop(*nodeagent.all_names())
    neutron.stop()
    # compute2 after host 1's agents (LAB.md), while host 1's OVS still runs.
    hosts.stop_compute2()
    # Deleting a VM's namespace ends its udhcpc and its veth pair; the qbr and
    # qvb/qvo links go below with the other port-named links.
    for ns in netns.list_namespaces():
        if netns.LAB_NAMESPACE.match(ns):
            netns.delete(ns)
    ovs.teardown()
    for link in netns.root_links():
        if netns.PORT_LINK.match(link) or netns.DVR_LINK.match(link) or link in (ovs.OUTSIDE_PORT, *hosts.LINKS):
            netns.delete_link(link)
    firewall.cleanup()
    procs.stop("keystone")
    rabbitmq.stop()
    database.stop()
    database.remove()
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
              if netns.PORT_LINK.match(link) or netns.DVR_LINK.match(link)
              or link in (ovs.OUTSIDE_PORT, *ovs.LAB_BRIDGES)]
    found += hosts.leftovers()
    if ovs.DB_SOCK.exists():
        found.append(f"socket {ovs.DB_SOCK}")
    if owner.OWNER_FILE.exists():
        found.append(f"file {owner.OWNER_FILE}")
    if paths.SHARED_DIR.exists():
        found.append(f"directory {paths.SHARED_DIR}")
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
        result[host] = {**info, "alive": alive,
                        "node_agent": {"running": nodeagent.name(host) in running,
                                       "token_file": nodeagent.token_file(host).exists()}}
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
        return [{"agent_type": a["agent_type"], "host": a["host"], "alive": a["alive"]}
                for a in neutron.agents(neutron.client(keystone.ADMIN))]
    except (rest.HttpError, OSError):
        return []


def locate(name: str) -> tuple[str, str]:
    """(host, namespace) of a VM name (`vm-db-1`), `outside`, a namespace name, or `host:namespace`."""
    if ":" in name:
        host, ns = name.split(":", 1)
        return host, ns
    vm = read_state().get("vms", {}).get(name)
    if vm:
        return vm.get("host", hosts.CONTROLLER), vm["namespace"]
    if netns.exists(name):
        return hosts.CONTROLLER, name
    return hosts.CONTROLLER, vms.namespace(name)


def ping(vm: str, target: str, timeout: float = 90.0) -> bool:
    """Ping `target` from VM `vm` (or `outside`, or `host:namespace`) in its host's view,
    polling until a reply or `timeout` (the first ping on a new path is often lost)."""
    host, ns = locate(vm)
    with procs.view(hosts.view(host)):
        return vms.ping(ns, target, timeout)


def run_on(host: str, argv: list[str], capture: bool = False) -> subprocess.CompletedProcess[str]:
    """Run `argv` in `host`'s view (compute2: inside its holder's network and mount namespaces)."""
    v = hosts.view(host)
    # nsenter -m would start in /: keep the caller's working directory.
    full = [*(v.prefix if v else ()), *([f"--wd={os.getcwd()}"] if v else []), *argv]
    return subprocess.run(full, capture_output=capture, text=True, check=False)


def run_in(name: str, argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run `argv` inside a VM's (or `outside`'s, or `host:namespace`'s) namespace, output captured."""
    host, ns = locate(name)
    return run_on(host, ["ip", "netns", "exec", ns, *argv], capture=True)


def namespaces(host: str) -> list[str]:
    """`ip netns` names of `host` (compute2: its own /run/netns)."""
    with procs.view(hosts.view(host)):
        return netns.list_namespaces()
