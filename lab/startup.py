"""Starting the lab's parts: services together, Neutron's agents on each host, node agents; the final state."""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from lab import (
    database,
    hosts,
    keystone,
    metadata,
    neutron,
    nodeagent,
    ovs,
    owner,
    paths,
    procs,
    rabbitmq,
    rest,
)
from lab.scenarios import needs_compute2
from lab.state import State, _write_state

log = logging.getLogger(__name__)


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


def _start_agents(mode: str) -> None:
    """compute2 first (host modes dvr, netnode, ha and vlan), then host 1's agents; wait until all report alive."""
    since = neutron.now_utc()
    two_hosts = mode != "legacy"
    if two_hosts:
        hosts.start_compute2(nodeagent.URL, mode)
    neutron.start_agents(mode)
    admin = neutron.client(keystone.ADMIN)
    if mode == "netnode":
        # Host 1's L3 and DHCP agents of a previous mode count as alive for agent_down_time: the
        # schedulers would put router1 and the network's DHCP there.
        neutron.delete_agents(admin, hosts.CONTROLLER, types=("L3 agent", "DHCP agent"))
    if mode == "vlan":
        # compute2's L3 (and metadata) agent of a previous mode counts as alive as well: routers stay on host 1.
        neutron.delete_agents(admin, hosts.COMPUTE2, types=("L3 agent", "DHCP agent", metadata.AGENT_TYPE))
    neutron.wait_agents_alive(admin, types=neutron.agent_types(mode), started_after=since)
    if two_hosts:
        with procs.view(hosts.view(hosts.COMPUTE2)):
            types = hosts.agent_types(mode)
            neutron.wait_agents_alive(admin, host=hosts.COMPUTE2, types=types, started_after=since)


def _start_node_agents(state: State) -> None:
    """The dashboard's node agent on every host, where a token file exists."""
    if state.get("status") != "up" or owner.foreign() is not None:
        return
    for host, info in state.get("hosts", {hosts.CONTROLLER: {}}).items():
        two_hosts = needs_compute2(state.get("scenario", ""))
        tunnel = info.get("tunnel_ip") if host == hosts.COMPUTE2 or two_hosts else None
        try:
            nodeagent.start(host, tunnel)
        except RuntimeError as e:
            log.warning("node agent of %s not started: %s", host, e)


def _start_services(mode: str = "legacy") -> None:
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
    neutron.write_config(mode)
    starters = {"database": neutron_database, "rabbitmq": rabbitmq.start, "keystone": identity, "ovs": ovs.start}
    with ThreadPoolExecutor(max_workers=len(starters)) as pool:
        for f in [pool.submit(timed, fn, name) for name, fn in starters.items()]:
            f.result()
