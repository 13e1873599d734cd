"""The lab's entry points: up, scenario, down, status, ping, exec. Plain functions, no Django.

    from lab import api
    api.up()                 # install if needed, start everything, build `allinone`
    api.up("dvr")            # on a running lab: switch scenarios (services stay up)
    api.status()             # dict: state.json + live daemons, agents, memory
    api.ping("cirros-01", "192.168.1.1", timeout=30)   # in the VM's host's view
    api.run_on("compute2", ["ip", "netns"])           # a command in a host's view
    api.down()               # remove everything the lab made (host 1's agents, then compute2)

Its parts, one concept a module: lab.state (state.json, health), lab.startup, lab.switching
(scenario switch), lab.teardown, lab.status, lab.hostcmd (commands in a host's view).
"""

from __future__ import annotations

import logging
from pathlib import Path

from lab import install, keystone, neutron, owner, paths
from lab.hostcmd import locate, namespaces, ping, run_in, run_on
from lab.laps import Laps
from lab.scenarios import SCENARIOS, host_mode
from lab.startup import _finish, _rotate_logs, _start_agents, _start_node_agents, _start_services
from lab.state import State, _anything_running, _base_healthy, _read_json, _write_state, daemon_names, is_up, read_state
from lab.status import status
from lab.switching import _switch, reset_neutron
from lab.takeover import take_over
from lab.teardown import _down, leftovers

__all__ = [  # the public names this module had before its parts moved to the modules above
    "State",
    "daemon_names",
    "down",
    "is_up",
    "leftovers",
    "locate",
    "namespaces",
    "ping",
    "read_state",
    "reset_neutron",
    "run_in",
    "run_on",
    "status",
    "switch",
    "up",
]

log = logging.getLogger(__name__)


def up(scenario: str = "allinone", adopt: bool = False) -> State:
    """Bring the lab up with `scenario` built; a no-op when it already is.

    When another checkout's lab runs on this machine: owner.ForeignLab (which
    says how to take it down or adopt it), or, with `adopt`, use it as it is.
    When the owner record names another checkout's dead lab (owner.dead: its
    LAB_DIR gone, or none of its daemons running), what it left is removed
    first (lab.takeover, logged) and this checkout builds its own.
    """
    with owner.exclusive():
        other = _claim(adopt)
        if other is not None:
            return _borrow(other, scenario)
        state = _up(scenario)
        _start_node_agents(state)
        return state


def _claim(adopt: bool, record: Path = owner.OWNER_FILE, lab_dir: Path | None = None) -> Path | None:
    """Make the lab here this checkout's to build (None), a dead foreign lab's leftovers removed
    first; or the LAB_DIR of the live foreign lab to borrow (`adopt`); or raise owner.ForeignLab.
    Called under owner.exclusive() (see owner.dead); `record` and `lab_dir` as in lab.owner."""
    dead = owner.dead(record, lab_dir)
    if dead is not None:
        take_over(dead)
    else:
        other = owner.adoptable(adopt, record, lab_dir)
        if other is not None:
            return other
    owner.claim(record, lab_dir)
    return None


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


def _borrow(other: Path, scenario: str) -> State:
    state = _read_json(other / "state.json")
    healthy = keystone.healthy() and neutron.api_answers()
    if state.get("status") != "up" or state.get("scenario") != scenario or not healthy:
        raise RuntimeError(
            f"the lab of {other} runs here (status {state.get('status')}, scenario {state.get('scenario')}): "
            f"take it down there first (python manage.py lab down)"
        )
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
    laps = Laps()
    install.install()
    laps.lap("install")
    _rotate_logs()
    _write_state({"status": "starting", "scenario": scenario})
    try:
        _start_services(host_mode(scenario))
        laps.lap("services")
        neutron.start_server()
        laps.lap("neutron_server")
        _start_agents(host_mode(scenario))
        laps.lap("agents")
        built = SCENARIOS[scenario]()
        laps.lap("scenario")
    except Exception as e:
        _write_state({"status": "failed", "scenario": scenario, "error": str(e)})
        raise
    return _finish(scenario, built, laps.timings, laps.t0)
