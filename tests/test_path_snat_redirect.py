"""DVR SNAT: the VM host's qrouter must send the subnet's packets out to its sg- port, by its own lookup.

A distributed router's qrouter on a compute host reaches the outside for a VM without a floating IP
only by policy: ``ip rule from <qr- address>/<prefix> lookup <table>`` and that table's default route
via the subnet's SNAT port (sg-) in the SNAT host's snat namespace. Neutron's L3 agent sets them when it
first sees the router's gateway (dvr_local_router.external_gateway_added); a gateway update does nothing
there. Without them the ping out dies in the qrouter, and the explainer must not answer "ok": the lab
shows the real state (tests/test_path_broken.py::test_dvr_gateway_cleared), these cases pin the walk on
the synthetic DVR cloud (tests/test_path_owned.dvr_with_snat).
"""

from __future__ import annotations

from tests.diagnosis_clouds import COMPUTE, OUTSIDE, QR_PORT, QROUTER, VM1_PORT, Cloud, JsonDict, namespace, walk
from tests.test_path_owned import SG_IP, dvr_with_snat
from topology.path.model import Problem

TABLE = 167772161  # what Neutron names the subnet's table: the integer of its qr- address
QR_DEV = f"qr-{QR_PORT[:11]}"
MAIN = {"priority": 32766, "from": None, "table": 254, "action": "lookup", "family": 4}
REDIRECT = {"priority": TABLE, "from": "10.0.0.1/24", "table": TABLE, "action": "lookup", "family": 4}
QROUTER_NODE = f"netns:{COMPUTE}:{QROUTER}"


def route(dst: str, gateway: str | None, table: int) -> JsonDict:
    return {"dst": dst, "gateway": gateway, "dev": QR_DEV, "table": table, "family": 4}


def without_fip(rules: list[JsonDict] | None, routes: list[JsonDict]) -> Cloud:
    """vm-1 (on compute0001) without its floating IP, so it leaves by SNAT; its host's qrouter with
    ``rules`` (None: a report without policy rules) and ``routes``."""
    cloud, reports = dvr_with_snat()
    cloud["floatingips"] = [f for f in cloud["floatingips"] if f["port_id"] != VM1_PORT]
    qrouter = namespace(reports, COMPUTE, QROUTER)
    qrouter["rules"] = [] if rules is None else rules
    qrouter["routes"] = [route("10.0.0.0/24", None, 254), *routes]
    return cloud, reports


def policy_hop(result: JsonDict) -> JsonDict:
    return next(h for h in result["hops"] if h["node"] == QROUTER_NODE and "SNAT port" in h["what"])


def test_the_qrouters_rule_and_table_to_the_sg_port_are_the_hops_evidence() -> None:
    result = walk(without_fip([MAIN, REDIRECT], [route("0.0.0.0/0", SG_IP, TABLE)]), "vm-1", OUTSIDE)
    assert result["verdict"] == "ok", result["problems"]
    hop = policy_hop(result)
    assert hop["status"] == "ok"
    assert f"from 10.0.0.1/24 lookup {TABLE}" in hop["evidence"] and f"via {SG_IP}" in hop["evidence"], hop


def test_without_the_redirect_rule_the_qrouter_is_the_broken_hop() -> None:
    """What the L3 agent leaves when it saw the gateway before the SNAT ports: no rule, the table unused."""
    result = walk(without_fip([MAIN], [route("0.0.0.0/0", SG_IP, TABLE)]), "vm-1", OUTSIDE)
    assert result["verdict"] == "broken", result
    problem = next(p for p in result["problems"] if p["code"] == Problem.SNAT_REDIRECT_MISSING)
    assert problem["node"] == QROUTER_NODE and problem["severity"] == "fail"
    assert "nowhere (no route)" in problem["message"] and f"restart neutron-l3-agent on {COMPUTE}" in problem["message"]
    assert policy_hop(result)["status"] == "fail"
    assert not any("snat-" in h["node"] for h in result["hops"]), "the walk ends in the qrouter: nothing reaches sg-"


def test_a_table_leading_to_another_address_than_the_sg_port_is_broken_too() -> None:
    """A stale redirect: the table's default route to an address that is no longer the subnet's sg- port."""
    stale = [route("0.0.0.0/0", "10.0.0.99", TABLE)]
    result = walk(without_fip([MAIN, REDIRECT], stale), "vm-1", OUTSIDE)
    assert result["verdict"] == "broken", result
    problem = next(p for p in result["problems"] if p["code"] == Problem.SNAT_REDIRECT_MISSING)
    assert "via 10.0.0.99" in problem["message"] and f"not to the SNAT port {SG_IP}" in problem["message"]


def test_a_report_without_policy_rules_is_not_judged() -> None:
    """Nothing to judge by (an agent that reports no rules): the walk goes on as before, not a wrong fail."""
    result = walk(without_fip(None, []), "vm-1", OUTSIDE)
    assert Problem.SNAT_REDIRECT_MISSING not in [p["code"] for p in result["problems"]]
    assert any("snat-" in h["node"] for h in result["hops"]), "on to the snat namespace"
