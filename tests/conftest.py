"""Shared fixtures: the real lab cloud (once per session) and its clouds."""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import openstack.connection
import pytest
from openstack.config import loader

log = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", REPO / "artifacts"))


SCENARIO_ORDER = {
    "lab": 1,
    "lab_session": 1,
    "dualstack_lab": 2,
    "dvr_lab": 3,
    "overlap_lab": 4,
    "netnode_lab": 5,
    "ha_lab": 6,
    "vlan_lab": 7,
}
LAST = "test_zz_lab_cycle.py"  # takes the lab down and up again: after every other lab test


def scenario_rank(item: pytest.Item) -> int:
    """Tests without the lab first, then by the scenario they need (allinone, dualstack, dvr, overlap,
    netnode, ha, vlan): dualstack right after allinone, its switch from it keeps the agents (both legacy)."""
    if item.path.name == LAST:
        return 9
    names = getattr(item, "fixturenames", ())
    ranks = [rank for fixture, rank in SCENARIO_ORDER.items() if fixture in names]
    return max(ranks, default=0)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Group lab tests by scenario: one switch per scenario instead of one per change of scenario.

    A stable sort after pytest-django's own ordering, which it keeps within each group (there are no
    data migrations a transactional test's flush could take away from a later test).
    """
    items.sort(key=scenario_rank)


@pytest.fixture(autouse=True)
def fresh_channel_layers() -> Iterator[None]:
    """Each test gets its own Channels layer objects. Tests drive consumers and views from event
    loops of their own (async_to_sync, WebsocketCommunicator), and channels_redis binds its receive
    lock to the first loop that takes it: a consumer cut off with that lock held (a disconnect timing
    out on a loaded machine) otherwise poisons every later test's receive with "bound to a different
    event loop". A server process runs one loop, so this is the tests' own concern."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


KEEP_ENV = "LAB_KEEP"


def keep_lab(environ: Mapping[str, str]) -> bool:
    """LAB_KEEP=1 (or true/yes): leave the lab up after the session."""
    return environ.get(KEEP_ENV, "").strip().lower() in ("1", "true", "yes")


def end_lab_session(environ: Mapping[str, str], down: Callable[[], object]) -> bool:
    """At the end of a session that used the lab: take it down (about 4 GB otherwise stay in use,
    and the next checkout's `up` would find it) unless LAB_KEEP=1. True when `down` ran."""
    if keep_lab(environ):
        log.info("%s=1: the lab stays up", KEEP_ENV)
        return False
    down()
    return True


def own_scenario(state_file: Path) -> str:
    """The scenario this checkout's own lab was left in (state_file: its state.json), else allinone."""
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError):
        return "allinone"
    scenario = state.get("scenario") if isinstance(state, dict) and state.get("status") == "up" else None
    return scenario if isinstance(scenario, str) else "allinone"


@pytest.fixture(scope="session")
def lab_session() -> Iterator[None]:
    """The real lab cloud, brought up once per session and taken down at its end unless LAB_KEEP=1.

    ``lab up`` is a no-op when the lab already runs, so a developer's lab is
    reused (LAB_KEEP=1 keeps it for the next run); another checkout's lab is refused
    (lab.owner.ForeignLab says how to take it down or adopt it).
    """
    from lab import api, paths

    # Always through up(): a no-op when this checkout's lab runs healthy (kept in its scenario: each
    # test's lab_in() switches if it must); a dead lab recorded by another checkout is taken over, a
    # live one refused (owner.ForeignLab). api.read_state() follows the machine's owner record, so
    # deciding on it alone once let a run "use" another checkout's lab it had no clouds.yaml for.
    api.up(own_scenario(paths.STATE_FILE))
    yield
    end_lab_session(os.environ, api.down)


def lab_in(scenario: str) -> dict[str, Any]:
    """The lab with ``scenario`` built: a no-op when it already is, else one switch.

    Switching only when a test needs another scenario (never back "just in case")
    keeps the number of switches in a run to the number of scenario changes in it.
    """
    from lab import api

    state = api.read_state()
    if state.get("status") != "up" or state.get("scenario") != scenario:
        api.up(scenario)
    return api.status()


@pytest.fixture
def lab(lab_session: None) -> dict[str, Any]:
    """The lab with scenario ``allinone`` (its ids change when a scenario switch rebuilt it)."""
    return lab_in("allinone")


@pytest.fixture
def dualstack_lab(lab_session: None) -> dict[str, Any]:
    """Scenario dualstack (issue 19): allinone with IPv6 (SLAAC from radvd, routed without NAT)."""
    return lab_in("dualstack")


@pytest.fixture
def dvr_lab(lab_session: None) -> dict[str, Any]:
    """Scenario dvr (seed 001): two hosts, a distributed router."""
    return lab_in("dvr")


@pytest.fixture
def overlap_lab(lab_session: None) -> dict[str, Any]:
    """Scenario overlap (seed 004): two routers, the same subnet twice, the same VM IP twice."""
    return lab_in("overlap")


@pytest.fixture
def netnode_lab(lab_session: None) -> dict[str, Any]:
    """Scenario netnode (seed 003): the VMs on host 1, router1 and DHCP on the network node compute2."""
    return lab_in("netnode")


@pytest.fixture
def ha_lab(lab_session: None) -> dict[str, Any]:
    """Scenario ha (issue 15): router1 an HA router, its qrouter- on both hosts, one active, one standby."""
    return lab_in("ha")


@pytest.fixture
def vlan_lab(lab_session: None) -> dict[str, Any]:
    """Scenario vlan (seed 004, issue 15): net01/net02 VLANs of physnet1, vm01 on host 1, vm02 on compute2,
    the two hosts' br-vlan joined by a veth wire."""
    return lab_in("vlan")


def lab_connection(cloud: str) -> openstack.connection.Connection:
    from lab import paths

    config = loader.OpenStackConfig(config_files=[str(paths.CLOUDS_YAML)], load_envvars=False)
    return openstack.connection.Connection(config=config.get_one(cloud=cloud))


@pytest.fixture(scope="session")
def admin_cloud(lab_session: None) -> openstack.connection.Connection:
    return lab_connection("lab-admin")


@pytest.fixture(scope="session")
def demo_cloud(lab_session: None) -> openstack.connection.Connection:
    return lab_connection("lab-demo")


@pytest.fixture(scope="session")
def alt_cloud(lab_session: None) -> openstack.connection.Connection:
    return lab_connection("lab-alt")


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's headless Chromium, driven by Playwright (tests/browser.py)."""
    from tests.browser import chromium

    with chromium() as b:
        yield b


def lab_password(lab_state: dict[str, Any], user: str) -> str:
    import yaml

    with open(lab_state["clouds_yaml"]) as fh:
        return str(yaml.safe_load(fh)["clouds"][f"lab-{user}"]["auth"]["password"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
