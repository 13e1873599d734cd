"""Hairpin and own floating IP (issue 20, item 7), pure: walked inside the legacy router.

A VM's packet to a floating IP of its own router is DNATed in the qrouter (PREROUTING matches on any
interface), SNATed on its way back out on qr- and never leaves by qg-; the walk names both rules.
A router whose hairpin SNAT rule is missing is diagnosed there.
"""

from __future__ import annotations

from tests.diagnosis_clouds import QROUTER, JsonDict, dvr, fip_address, legacy
from tests.test_path_sg_nat import GATEWAY_IP, VM0, VM1, ask, codes, without_fip


def router_hops(result: JsonDict) -> list[JsonDict]:
    return [h for h in result["hops"] if QROUTER in h["node"]]


def test_a_hairpin_is_dnated_and_snated_in_the_qrouter_and_never_leaves_by_qg() -> None:
    cloud, reports = legacy()
    target = fip_address(cloud, VM1)
    result = ask((cloud, reports), "vm-0", "fip:vm-1")
    assert (result["verdict"], result["scenario"]) == ("ok", "hairpin"), result["problems"]
    nodes = [h["node"] for h in result["hops"]]
    assert not any(":qg-" in n or "br-ex" in n or n.startswith("network:") for n in nodes), nodes
    inside = router_hops(result)
    dnat = next(h for h in inside if "DNATs" in h["what"])
    snat = next(h for h in inside if "SNATs" in h["what"])
    assert f"-d {target}/32 -j DNAT --to-destination 10.0.0.11" in dnat["evidence"], dnat
    assert f"-s 10.0.0.10/32 -j SNAT --to-source {fip_address(cloud, VM0)}" in snat["evidence"], snat
    assert inside.index(dnat) < inside.index(snat)
    assert inside[-1]["what"].startswith("leaves on the qr- of"), "back out on qr-"
    assert result["hops"][-1]["what"] == "vm-1 receives it on 10.0.0.11"


def test_own_floating_ip_comes_back_to_the_sender() -> None:
    result = ask(legacy(), "vm-1", "fip:vm-1")
    assert (result["verdict"], result["scenario"]) == ("ok", "hairpin"), result["problems"]
    assert result["hops"][0]["what"].startswith("vm-1 sends") and result["hops"][-1]["what"].startswith("vm-1 receives")


def test_a_router_without_the_hairpin_snat_rule_is_diagnosed() -> None:
    cloud, reports = legacy()
    without_fip(cloud, reports, VM0)
    assert ask((cloud, reports), "vm-0", "fip:vm-1")["verdict"] == "ok"
    for namespace in reports["compute0000"]["namespaces"]:
        if namespace["name"] == QROUTER:
            lines = namespace["iptables"]["nat"].splitlines()
            namespace["iptables"]["nat"] = "\n".join(line for line in lines if "--ctstate DNAT" not in line)
    result = ask((cloud, reports), "vm-0", "fip:vm-1")
    assert (result["verdict"], codes(result)) == ("broken", ["router_no_gateway"]), result["problems"]
    assert f"--to-source {GATEWAY_IP}" in result["problems"][0]["message"]


def test_dvr_own_floating_ip_turns_in_the_fip_namespace_and_never_leaves_by_fg() -> None:
    """DVR's qrouter DNATs only what comes in on rfp-: out over rfp-/fpr- SNATed to the floating IP, the
    fip namespace's /32 route hands it straight back, DNAT on the way in; no fg-, no br-ex."""
    cloud, reports = dvr()
    result = ask((cloud, reports), "vm-1", "fip:vm-1")
    assert (result["scenario"], result["verdict"]) == ("hairpin-dvr", "ok"), result["problems"]
    nodes = [h["node"] for h in result["hops"]]
    assert not any(":fg-" in n or "br-ex" in n or n.startswith("network:") for n in nodes), nodes
    whats = [h["what"] for h in result["hops"]]
    order = [
        next(i for i, w in enumerate(whats) if w.startswith(prefix))
        for prefix in (
            "qrouter's policy routing",
            "leaves qrouter on rfp-",
            "the fip namespace routes",
            "enters the qrouter again",
            "qrouter DNATs",
        )
    ]
    assert order == sorted(order), whats
    assert f"arrives from {fip_address(cloud, VM1)}" in next(
        h["evidence"] for h in result["hops"] if "ingress" in h["what"]
    )


def test_dvr_sender_without_a_floating_ip_goes_out_by_snat_and_back_in_by_fg() -> None:
    cloud, reports = dvr()
    cloud["floatingips"] = [f for f in cloud["floatingips"] if f["port_id"] != VM0]
    result = ask((cloud, reports), "vm-0", "fip:vm-1")
    assert result["scenario"] == "inbound-fip-dvr", result["scenario"]
    assert any("routes it by policy to the SNAT port" in h["what"] for h in result["hops"])
    assert any(":fg-" in h["node"] for h in result["hops"]), "back in by the destination host's fg-"
    assert f"arrives from {GATEWAY_IP}" in next(h["evidence"] for h in result["hops"] if "ingress" in h["what"])
