"""radvd's presence in a qrouter namespace, joined from the namespace's reported processes (issue 19, part 3)."""

from __future__ import annotations

import copy
from typing import Any

from bench.synthetic import synthetic_cloud, uid
from topology.join import join
from topology.join.devices import radvd_of

ROUTER, OTHER = uid("router", 0), uid("router", 1)
CONF = f"/var/lib/neutron/ra/{ROUTER}.radvd.conf"


def radvd(router: str, name: str = "radvd") -> dict[str, Any]:
    # As the L3 agent starts it (neutron/agent/linux/ra.py): radvd -C <conf> -p <pid file> -m syslog -u <user>
    conf = f"/var/lib/neutron/ra/{router}.radvd.conf"
    return {"pid": 77, "name": name, "argv": ["radvd", "-C", conf, "-p", f"/x/{router}.pid.radvd", "-m", "syslog"]}


def qrouter_attrs(processes: object) -> dict[str, Any]:
    cloud, reports = synthetic_cloud(hosts=1, ports=1, projects=1, network_nodes=1)
    reports = copy.deepcopy(reports)
    ns = next(n for n in reports["compute0000"]["namespaces"] if n["name"] == f"qrouter-{ROUTER}")
    if processes is not None:
        ns["processes"] = processes
    graph = join(cloud, reports).to_dict()
    return dict(next(n for n in graph["nodes"] if n["id"] == f"netns:compute0000:qrouter-{ROUTER}")["attrs"])


def test_a_radvd_whose_config_names_the_router_is_its_radvd() -> None:
    assert qrouter_attrs([radvd(ROUTER)])["radvd"] == {"pid": 77, "config": CONF}


def test_none_when_no_radvd_runs_or_it_serves_another_router_or_processes_are_not_reported() -> None:
    assert "radvd" not in qrouter_attrs([])
    assert "radvd" not in qrouter_attrs([radvd(OTHER)])
    assert "radvd" not in qrouter_attrs([radvd(ROUTER, name="haproxy")])
    assert "radvd" not in qrouter_attrs(None)


def test_hostile_process_lists_never_break_the_join() -> None:
    assert radvd_of(ROUTER, "not a list") is None
    assert radvd_of(ROUTER, [None, 3, {"name": "radvd", "argv": [None, 5]}]) is None
    assert radvd_of(ROUTER, [{"name": "radvd", "argv": [f"--config={ROUTER}"]}]) == {
        "pid": None,
        "config": f"--config={ROUTER}",
    }
