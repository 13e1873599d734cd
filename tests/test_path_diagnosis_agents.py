"""The explainer's diagnoses of dead agents: a warning while their work still stands, the cause when it does not."""

from __future__ import annotations

import pytest

from tests.diagnosis_clouds import (
    COMPUTE,
    NETWORK_NODE,
    OUTSIDE,
    VM1_PORT,
    Break,
    JsonDict,
    agent,
    dhcp_agent_dead,
    diagnosed,
    failed_hops,
    instance,
    legacy,
    ovs_agent_dead,
    qrouter_gone,
    the_failed_hop,
    the_problem,
    vm1_qvo_untagged,
)

# --------------------------------------------------------------------------- agents


@pytest.mark.parametrize(
    ("make", "agent_type", "host"),
    [
        (ovs_agent_dead, "Open vSwitch agent", COMPUTE),
        (dhcp_agent_dead, "DHCP agent", NETWORK_NODE),
    ],
)
def test_a_dead_agent_warns_while_what_it_set_up_still_works(make: Break, agent_type: str, host: str) -> None:
    result = diagnosed(legacy, "vm-1", OUTSIDE, make)
    assert result["verdict"] == "ok"
    problem = the_problem(result, "agent_dead", "warn")
    assert problem["node"] == f"host:{host}" and f"the {agent_type} on {host} is dead" in problem["message"]
    assert failed_hops(result) == []
    assert [h["node"] for h in result["hops"] if h["status"] == "warn"] == [instance(result, "src")]


def test_a_dead_ovs_agent_is_the_cause_of_the_port_it_never_wired() -> None:
    result = diagnosed(legacy, "vm-1", OUTSIDE, ovs_agent_dead, vm1_qvo_untagged)
    assert result["verdict"] == "broken"
    problems = {p["code"]: p for p in result["problems"]}
    assert set(problems) == {"agent_dead", "port_down"}
    dead = problems["agent_dead"]
    assert dead["severity"] == "fail" and f"the Open vSwitch agent on {COMPUTE} is dead" in dead["message"]
    assert "what is missing on that host is what it did not apply" in dead["message"]
    assert the_failed_hop(result)["node"] == f"iface:{COMPUTE}:-:qvo{VM1_PORT[:11]}"


def test_a_dead_l3_agent_is_the_cause_of_the_qrouter_namespace_it_did_not_rebuild() -> None:
    def l3_agent_dead(cloud: JsonDict, reports: dict[str, JsonDict]) -> None:
        agent(cloud, NETWORK_NODE, "L3 agent")["alive"] = False

    result = diagnosed(legacy, "vm-1", OUTSIDE, l3_agent_dead, qrouter_gone)
    assert result["verdict"] == "broken"
    problems = {p["code"]: p for p in result["problems"]}
    assert set(problems) == {"namespace_missing", "agent_dead"}
    assert problems["agent_dead"]["severity"] == "fail"
    assert f"the L3 agent on {NETWORK_NODE} is dead" in problems["agent_dead"]["message"]
    assert the_failed_hop(result)["node"] == f"host:{NETWORK_NODE}"
