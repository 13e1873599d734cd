"""Security groups as the packet meets them (issue 20, item 6), pure, on the synthetic clouds.

The destination's ingress rules judge the source the packet carries when it arrives, after every NAT
on the way (a hairpin through the router arrives from the sender's floating IP or the router's
gateway address, never from the sender's fixed IP); remote-group rules admit the group's members'
fixed addresses only; the source port's egress rules are evaluated too (no group, or no egress
rule, sends nothing); the hop names the rule that decides, or says that none matches.
"""

from __future__ import annotations

from bench.synthetic import uid
from tests.diagnosis_clouds import Cloud, JsonDict, dvr, fip_address, legacy, port, walk
from tests.map_fixtures import dvr_cloud

SG = uid("sg", 0)  # project 0's default group: every VM port is in it
VM0, VM1 = uid("vmport", 0), uid("vmport", 1)
GATEWAY_IP = "192.168.1.1"  # router-0's gateway address


def ask(cloud_reports: Cloud, src: str, dst: str, probe: str = "icmp") -> JsonDict:
    """``src``/``dst``: a VM name, "fip:vm-N" (its floating IP) or an address."""
    return walk(cloud_reports, src, dst, probe)


def codes(result: JsonDict) -> list[str]:
    return [p["code"] for p in result["problems"]]


def ingress_hop(result: JsonDict) -> JsonDict:
    return next(h for h in result["hops"] if "ingress rules" in h["what"])


def egress_hop(result: JsonDict) -> JsonDict:
    return next(h for h in result["hops"] if "egress rules" in h["what"])


def members_only(cloud: JsonDict) -> None:
    """Demo's default group as Neutron makes it: ingress any from its members; ICMP from anywhere."""
    cloud["security_group_rules"].append(
        {
            "id": uid("rule", "members"),
            "security_group_id": SG,
            "direction": "ingress",
            "ethertype": "IPv4",
            "protocol": None,
            "remote_group_id": SG,
        }
    )


def without_fip(cloud: JsonDict, reports: dict[str, JsonDict], port_id: str) -> None:
    """``port_id``'s floating IP gone (Neutron, and its rules in the qrouter), and the L3 agent's hairpin
    SNAT rule in place (the synthetic qrouter lacks it)."""
    cloud["floatingips"] = [f for f in cloud["floatingips"] if f["port_id"] != port_id]
    fixed = port(cloud, port_id)["fixed_ips"][0]["ip_address"]
    for namespace in reports["compute0000"]["namespaces"]:
        if namespace["name"].startswith("qrouter-"):
            nat = [line for line in namespace["iptables"]["nat"].splitlines() if f"{fixed}/32" not in line]
            hairpin = (
                "[0:0] -A neutron-l3-agent-snat -m mark ! --mark 0x2/0xffff -m conntrack --ctstate DNAT "
                f"-j SNAT --to-source {GATEWAY_IP} --random-fully"
            )
            namespace["iptables"]["nat"] = "\n".join([line for line in nat if line != "COMMIT"] + [hairpin, "COMMIT"])


# --------------------------------------------------------------------------- ingress after NAT


def test_a_members_only_rule_admits_a_member_but_not_the_same_member_hairpinned_through_the_router() -> None:
    cloud, reports = legacy()
    members_only(cloud)
    direct = ask((cloud, reports), "vm-0", "vm-1", "tcp:8080")
    assert (direct["verdict"], direct["scenario"]) == ("ok", "same-network"), direct["problems"]
    evidence = ingress_hop(direct)["evidence"]
    assert "members of group default" in evidence and "10.0.0.10" in evidence, evidence
    assert "arrives from 10.0.0.10" in evidence
    hairpin = ask((cloud, reports), "vm-0", "fip:vm-1", "tcp:8080")
    own_fip = fip_address(cloud, VM0)
    assert (hairpin["verdict"], hairpin["scenario"], codes(hairpin)) == ("broken", "hairpin", ["sg_no_ingress"])
    message = hairpin["problems"][0]["message"]
    assert f"from {own_fip}" in message and "none matches" in message, message
    assert "SNATs 10.0.0.10 to its floating IP" in message, "the hop says which NAT made the source"


def test_the_hop_cites_the_narrowest_admitting_rule_in_whatever_order_neutron_lists_them() -> None:
    """ICMP from a member matches both "icmp from 0.0.0.0/0" and "any from members of default": the
    hop names the members rule either way (CI once saw the cited rule follow Neutron's list order)."""
    cited = set()
    for order in (list, lambda rules: list(reversed(rules))):
        cloud, reports = legacy()
        members_only(cloud)
        cloud["security_group_rules"] = order(cloud["security_group_rules"])
        result = ask((cloud, reports), "vm-0", "vm-1")
        assert result["verdict"] == "ok", result["problems"]
        cited.add(ingress_hop(result)["evidence"])
    assert len(cited) == 1, cited
    assert "members of group default" in cited.pop()


def test_a_vm_without_a_floating_ip_arrives_from_the_routers_gateway_address() -> None:
    cloud, reports = legacy()
    members_only(cloud)
    without_fip(cloud, reports, VM0)
    result = ask((cloud, reports), "vm-0", "fip:vm-1", "tcp:8080")
    assert (result["verdict"], codes(result)) == ("broken", ["sg_no_ingress"]), result["problems"]
    assert f"from {GATEWAY_IP}" in result["problems"][0]["message"]
    snat = next(h for h in result["hops"] if "SNATs 10.0.0.10" in h["what"])
    assert f"--ctstate DNAT -j SNAT --to-source {GATEWAY_IP}" in snat["evidence"], snat
    icmp = ask((cloud, reports), "vm-0", "fip:vm-1")
    assert icmp["verdict"] == "ok", icmp["problems"]
    assert f"arrives from {GATEWAY_IP}" in ingress_hop(icmp)["evidence"]
    assert "ingress icmp from 0.0.0.0/0" in ingress_hop(icmp)["evidence"], "the hop names the rule that decides"


def test_a_vm_to_its_own_floating_ip_arrives_from_that_floating_ip() -> None:
    cloud, reports = legacy()
    members_only(cloud)
    own = fip_address(cloud, VM1)
    tcp = ask((cloud, reports), "vm-1", "fip:vm-1", "tcp:8080")
    assert (tcp["verdict"], tcp["scenario"], codes(tcp)) == ("broken", "hairpin", ["sg_no_ingress"])
    assert f"from {own}" in tcp["problems"][0]["message"]
    icmp = ask((cloud, reports), "vm-1", "fip:vm-1")
    assert (icmp["verdict"], icmp["scenario"]) == ("ok", "hairpin"), icmp["problems"]


def test_a_rule_for_the_routers_gateway_address_lets_the_hairpin_in() -> None:
    cloud, reports = legacy()
    without_fip(cloud, reports, VM0)
    cloud["security_group_rules"].append(
        {
            "id": uid("rule", "gw"),
            "security_group_id": SG,
            "direction": "ingress",
            "ethertype": "IPv4",
            "protocol": "tcp",
            "port_range_min": 8080,
            "port_range_max": 8080,
            "remote_ip_prefix": f"{GATEWAY_IP}/32",
        }
    )
    result = ask((cloud, reports), "vm-0", "fip:vm-1", "tcp:8080")
    assert result["verdict"] == "ok", result["problems"]
    assert f"ingress tcp port 8080 from {GATEWAY_IP}/32" in ingress_hop(result)["evidence"]


def test_dvr_own_floating_ip_arrives_from_that_floating_ip() -> None:
    """DVR: the sender's qrouter SNATs it to its floating IP on the way to the fip namespace; the
    destination judges that address."""
    cloud, reports = dvr()
    members_only(cloud)
    result = ask((cloud, reports), "vm-1", "fip:vm-1", "tcp:8080")
    assert (result["scenario"], codes(result)) == ("hairpin-dvr", ["sg_no_ingress"]), result["problems"]
    assert f"from {fip_address(cloud, VM1)}" in result["problems"][0]["message"]
    assert ask((cloud, reports), "vm-1", "fip:vm-1")["verdict"] == "ok"


# --------------------------------------------------------------------------- egress


def test_a_port_without_any_security_group_sends_nothing() -> None:
    cloud, reports = legacy()
    port(cloud, VM0)["security_groups"] = []
    result = ask((cloud, reports), "vm-0", "192.168.0.1")
    assert (result["verdict"], codes(result)) == ("broken", ["sg_no_egress"]), result["problems"]
    assert "has no security group" in result["problems"][0]["message"]
    assert VM0 in result["problems"][0]["message"], "the problem names the port"
    assert egress_hop(result)["status"] == "fail"


def test_a_group_without_egress_rules_sends_nothing_and_is_named() -> None:
    cloud, reports = legacy()
    cloud["security_group_rules"] = [r for r in cloud["security_group_rules"] if r["direction"] != "egress"]
    result = ask((cloud, reports), "vm-0", "192.168.0.1")
    assert (result["verdict"], codes(result)) == ("broken", ["sg_no_egress"]), result["problems"]
    assert "(default): none matches" in result["problems"][0]["message"]


def test_an_egress_rule_limited_to_the_tenant_subnet_lets_east_west_out_but_not_north_south() -> None:
    cloud, reports = legacy()
    for rule in cloud["security_group_rules"]:
        if rule["direction"] == "egress":
            rule["remote_ip_prefix"] = "10.0.0.0/24"
    inside = ask((cloud, reports), "vm-0", "vm-1")
    assert inside["verdict"] == "ok", inside["problems"]
    assert "egress any to 10.0.0.0/24" in egress_hop(inside)["evidence"]
    out = ask((cloud, reports), "vm-0", "192.168.0.1")
    assert codes(out) == ["sg_no_egress"], out["problems"]


def test_port_security_off_filters_nothing_either_way() -> None:
    cloud, reports = legacy()
    vm0 = port(cloud, VM0)
    vm0["security_groups"], vm0["port_security_enabled"] = [], False
    assert ask((cloud, reports), "vm-0", "192.168.0.1")["verdict"] == "ok"


def test_the_reply_walk_does_not_judge_egress() -> None:
    """A reply leaves by conntrack, not by a rule: the return walk of a DVR east-west path is not
    broken by the destination's missing egress rules (it only answers)."""
    cloud, reports = dvr_cloud()
    in_only = uid("sg", "in-only")
    cloud["security_groups"].append({"id": in_only, "name": "in-only", "project_id": port(cloud, VM1)["project_id"]})
    for group in (SG, in_only):
        cloud["security_group_rules"].append(
            {"id": f"all-in-{group}", "security_group_id": group, "direction": "ingress", "ethertype": "IPv4"}
        )
    port(cloud, VM1)["security_groups"] = [in_only]  # the replier's group has no egress rule at all
    result = ask((cloud, reports), "vm-0", "vm-1")
    assert (result["scenario"], result["verdict"]) == ("east-west-dvr", "ok"), result["problems"]
    assert result["return_hops"] and result["return_verdict"] == "ok"
    assert ask((cloud, reports), "vm-1", "vm-0")["problems"][0]["code"] == "sg_no_egress", "vm-1 starts nothing"
