"""The explainer's diagnoses, pure: each problem code from one real-life break of a healthy synthetic cloud.

The cloud is bench/synthetic.py's (two hosts: compute0000 is the network node with the qrouter and
qdhcp namespaces, compute0001 a compute host) with bench/path.py's gateway port, br-ex and a floating
IP on every VM; ``dvr()`` makes its router distributed with compute0001's qrouter, fip namespace
(fpr-/fg-), rfp- and br-ex, as a DVR L3 agent builds them. Each test first walks the healthy cloud
(``ok``, no problem), then breaks exactly one thing the way it breaks on a real cloud and checks the
verdict, the problem code, that the message names what to fix, and the hop that fails (its host
and device). No lab, no database: the join and the explainer are pure functions.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.diagnosis_clouds import (
    COMPUTE,
    GW_PORT,
    NETWORK_NODE,
    OUTSIDE,
    QROUTER,
    ROUTER,
    VM1_PORT,
    Cloud,
    JsonDict,
    diagnosed,
    dvr,
    fip_address,
    instance,
    legacy,
    namespace,
    port,
    the_failed_hop,
    the_problem,
    vm1_port_down,
    vm1_qvo_untagged,
    walk,
)

__all__ = [  # what tests/test_drift.py imports from here (they now live in tests/diagnosis_clouds.py)
    "COMPUTE",
    "GW_PORT",
    "NETWORK_NODE",
    "OUTSIDE",
    "QROUTER",
    "ROUTER",
    "VM1_PORT",
    "fip_address",
    "legacy",
    "namespace",
    "port",
    "the_problem",
    "walk",
]

# --------------------------------------------------------------------------- the healthy walks


@pytest.mark.parametrize(
    ("build", "src", "dst", "scenario"),
    [
        (legacy, "vm-1", OUTSIDE, "north-south-fip"),
        (legacy, OUTSIDE, "fip:vm-1", "inbound-fip"),
        (legacy, "vm-1", "vm-0", "same-network"),
        (dvr, "vm-1", OUTSIDE, "north-south-fip-dvr"),
        (dvr, OUTSIDE, "fip:vm-1", "inbound-fip-dvr"),
    ],
)
def test_the_healthy_clouds_walk_ok_across_both_hosts(
    build: Callable[[], Cloud], src: str, dst: str, scenario: str
) -> None:
    result = walk(build(), src, dst)
    assert (result["scenario"], result["verdict"], result["problems"]) == (scenario, "ok", [])
    assert {h["host"] for h in result["hops"] if h["host"]} == (
        {NETWORK_NODE, COMPUTE} if build is legacy else {COMPUTE}
    )


# --------------------------------------------------------------------------- ports


@pytest.mark.parametrize(("src", "dst", "end"), [("vm-1", OUTSIDE, "src"), (OUTSIDE, "fip:vm-1", "dst")])
def test_a_port_neutron_marks_down(src: str, dst: str, end: str) -> None:
    result = diagnosed(legacy, src, dst, vm1_port_down)
    assert result["verdict"] == "broken"
    problem = the_problem(result, "port_down")
    assert "10.0.0.11 is DOWN" in problem["message"]
    hop = the_failed_hop(result)
    assert hop["node"] == instance(result, end) and hop["host"] == COMPUTE


def test_a_qvo_the_ovs_agent_has_not_tagged() -> None:
    result = diagnosed(legacy, "vm-1", OUTSIDE, vm1_qvo_untagged)
    assert result["verdict"] == "broken"
    problem = the_problem(result, "port_down")
    assert f"qvo{VM1_PORT[:11]} has no VLAN tag on br-int" in problem["message"]
    assert the_failed_hop(result)["node"] == f"iface:{COMPUTE}:-:qvo{VM1_PORT[:11]}"


def test_a_port_whose_binding_failed() -> None:
    def binding_failed(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
        port(cloud, VM1_PORT)["binding:vif_type"] = "binding_failed"

    result = diagnosed(legacy, "vm-1", OUTSIDE, binding_failed)
    assert result["verdict"] == "broken"
    problem = the_problem(result, "port_unbound")
    assert "10.0.0.11" in problem["message"] and f"bind on host {COMPUTE}" in problem["message"]
    hop = the_failed_hop(result)
    assert hop["node"] == instance(result, "src") and hop["host"] == COMPUTE


def test_a_port_never_bound() -> None:
    def unbound(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
        vm1 = port(cloud, VM1_PORT)
        vm1["binding:host_id"], vm1["binding:vif_type"] = "", "unbound"

    result = diagnosed(legacy, "vm-1", OUTSIDE, unbound)
    assert result["verdict"] == "broken"
    problem = the_problem(result, "port_unbound")
    assert "port 10.0.0.11 is not bound to a host (vif_type unbound)" in problem["message"]
    assert the_failed_hop(result)["node"] == instance(result, "src")


def test_a_host_whose_node_agent_sends_no_report() -> None:
    """What is on a host without a report is unknown: the report is the fault, not missing devices."""

    def node_agent_stopped(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
        del reports[COMPUTE]

    result = diagnosed(legacy, "vm-1", OUTSIDE, node_agent_stopped)
    assert result["verdict"] == "broken"
    problem = the_problem(result, "host_no_report")
    assert f"host {COMPUTE} sends no agent report" in problem["message"]
    hop = the_failed_hop(result)
    assert hop["node"] == instance(result, "src") and hop["host"] == COMPUTE
    on_host = [h for h in result["hops"][1:] if h["host"] == COMPUTE or COMPUTE in h["node"]]
    assert on_host and all(h["status"] == "unknown" for h in on_host)


def test_a_tap_device_gone_from_the_host() -> None:
    """The instance's tap is gone (instance shut off or crashed) while Neutron's port stays ACTIVE."""

    def tap_gone(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
        interfaces = reports[COMPUTE]["interfaces"]
        interfaces.remove(next(i for i in interfaces if i["name"] == f"tap{VM1_PORT[:11]}"))

    result = diagnosed(legacy, "vm-1", OUTSIDE, tap_gone)
    assert result["verdict"] == "broken"
    problem = the_problem(result, "device_missing")
    assert f"tap{VM1_PORT[:11]} is missing on {COMPUTE}" in problem["message"]
    hop = the_failed_hop(result)
    assert (hop["host"], hop["what"]) == (COMPUTE, "leaves the instance on its tap device")
