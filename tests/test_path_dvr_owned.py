"""The rest of issue 20's DVR rows, pure, on the synthetic DVR cloud with its SNAT host (compute0000):
the router's SNAT port (sg-) asked from a VM is answered in the snat namespace (switched to it, the
VM's own subnet: no router on the way); a VM's fixed IP asked as an address from the outside is not
routable, never DNATed (asked by the VM's id it is still reached through its floating IP). The same
rows proven on the real lab: tests/test_path_dvr_questions_lab.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.diagnosis_clouds import (
    COMPUTE,
    NETWORK_NODE,
    OUTSIDE,
    QROUTER,
    VM1_PORT,
    Cloud,
    JsonDict,
    dvr,
    fip_address,
    legacy,
    namespace,
    port,
    walk,
)
from tests.test_path_owned import SG_IP, SNAT_NS, dvr_with_snat


def codes(result: JsonDict) -> list[str]:
    return [p["code"] for p in result["problems"]]


def nodes(result: JsonDict) -> list[str]:
    return [h["node"] for h in result["hops"]]


def test_dvr_the_snat_port_is_switched_to_and_answered_in_the_snat_namespace() -> None:
    result = walk(dvr_with_snat(), "vm-1", SG_IP)
    assert (result["verdict"], result["scenario"], result["problems"]) == ("ok", "to-router", []), result
    assert result["dst"]["kind"] == "router", "the sg- address resolves to its router, not unknown"
    assert any(re.search(rf"^iface:{NETWORK_NODE}:{SNAT_NS}:sg-", n) for n in nodes(result)), "received on sg-"
    last = result["hops"][-1]
    assert last["node"] == f"netns:{NETWORK_NODE}:{SNAT_NS}" and "SNAT port (sg-)" in last["what"], last
    assert f"ip addr: {SG_IP}/24 on sg-" in last["evidence"], last
    assert f"netns:{COMPUTE}:{QROUTER}" not in nodes(result), "on-link: switched, never routed by the qrouter"
    assert not any("br-ex" in n for n in nodes(result))


def test_dvr_a_lost_snat_namespace_breaks_the_walk_to_the_snat_port() -> None:
    cloud, reports = dvr_with_snat()
    reports[NETWORK_NODE]["namespaces"].remove(namespace(reports, NETWORK_NODE, SNAT_NS))
    result = walk((cloud, reports), "vm-1", SG_IP)
    assert (result["verdict"], result["scenario"], codes(result)) == ("broken", "to-router", ["namespace_missing"])
    assert SNAT_NS in result["problems"][0]["message"]


@pytest.mark.parametrize("build", [legacy, dvr], ids=["legacy", "dvr"])
def test_from_outside_a_vms_fixed_ip_is_not_routable_never_dnated(build: Callable[[], Cloud]) -> None:
    cloud_reports = build()
    fixed = port(cloud_reports[0], VM1_PORT)["fixed_ips"][0]["ip_address"]
    result = walk(cloud_reports, OUTSIDE, fixed)
    assert (result["verdict"], result["dst"]["kind"], codes(result)) == (
        "broken",
        "fixed",
        ["not_routable_from_outside"],
    ), result
    assert f"ask its floating IP {fip_address(cloud_reports[0], VM1_PORT)}" in result["problems"][0]["message"]
    assert not any("DNAT" in h["what"] + h["evidence"] for h in result["hops"]), "a fixed IP is never DNATed"
    by_id = walk(build(), OUTSIDE, "vm-1")
    assert (by_id["verdict"], by_id["scenario"]) == ("ok", "inbound-fip" if build is legacy else "inbound-fip-dvr")
