"""HA routers' walks on the real lab (scenario ha, issues 15 and 20): router1 on both hosts' legacy L3 agents,
keepalived making one instance active. Each walk is explained on the dashboard's join of the real lab and
then really pinged from the same place: the verdict agrees with the ping and the hops name the instance
holding the VIPs. Failover, no active instance and a split brain are made for real (keepalived stopped,
VRRP dropped) and undone. All rows are in this one file so that the scenario is built once per run.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from lab import api, ha, keystone, neutron, procs
from tests.test_path_metadata_lab import INSTANCE_ID_URL
from tests.test_topology_dvr import joined
from topology.api import StoredReports
from topology.path import PathError, Problem, explain

pytestmark = [pytest.mark.lab, pytest.mark.ha_lab, pytest.mark.django_db]
JsonDict = dict[str, Any]
OUTSIDE = "192.168.1.1"
QR_VIP = "10.0.0.1"  # router1's qr- address on private (scenario ha's subnet gateway)
BURST = 10
METADATA_IP = "169.254.169.254"


def replies(who: str, target: str, count: int = BURST) -> int:
    """Echo replies to ``count`` pings of ``target`` from ``who`` (a VM or the outside)."""
    out = api.run_in(who, ["ping", "-c", str(count), "-i", "0.2", "-W", "1", target]).stdout
    found = re.search(r"(\d+) (?:packets )?received", out)
    return int(found.group(1)) if found else 0


def router_of(state: JsonDict) -> JsonDict:
    return dict(state["routers"]["router1"])


def server(state: JsonDict, vm: str) -> str:
    return f"server:{state['vms'][vm]['server_id']}"


def roles(state: JsonDict) -> tuple[str, str]:
    """(active, standby) as the data plane and Neutron both say, once they agree."""
    router = router_of(state)
    states = ha.wait_one_active(neutron.client(keystone.ADMIN), router["id"])
    holders = ha.vip_holders(router["hosts"], router["namespace"])
    assert holders == [ha.active_host(states)], (holders, states)
    (standby,) = set(router["hosts"]) - set(holders)
    return holders[0], standby


def questions(state: JsonDict) -> list[tuple[str, str, str, str]]:
    """(who sends, the source for the explainer, destination, scenario): FIP out, SNAT out, FIP in, and
    east-west from private (cirros-01 on the controller) to private2 (db-01 on compute2)."""
    fip = state["vms"]["cirros-01"]["floating_ip"]
    return [
        ("cirros-01", server(state, "cirros-01"), OUTSIDE, "north-south-fip"),
        ("ubuntu-01", server(state, "ubuntu-01"), OUTSIDE, "north-south-snat"),
        ("outside", OUTSIDE, fip, "inbound-fip"),
        ("cirros-01", server(state, "cirros-01"), state["vms"]["db-01"]["ip"], "east-west"),
    ]


def sender_host(state: JsonDict, who: str) -> str:
    return "controller" if who == "outside" else str(state["vms"][who]["host"])


def through(state: JsonDict, result: JsonDict, active: str, standby: str, sender: str) -> None:
    """The walk goes through the active instance, says so, and crosses the tunnel when the sender is elsewhere."""
    ns = router_of(state)["namespace"]
    hops = [h["node"] for h in result["hops"]]
    assert f"netns:{active}:{ns}" in hops and f"netns:{standby}:{ns}" not in hops, hops
    named = [h["what"] for h in result["hops"] if h["node"] == f"netns:{active}:{ns}"]
    assert any(f"HA: the active instance on {active} (standby on {standby})" in w for w in named), named
    if sender != active and "outside" not in result["src"]["kind"]:
        assert f"bridge:{sender}:br-tun" in hops and f"bridge:{active}:br-tun" in hops, hops


def walks_agree(state: JsonDict, active: str, standby: str) -> list[str]:
    graph = joined(state)
    lines = []
    for who, src, dst, scenario in questions(state):
        result = explain(graph, StoredReports(), src, dst)
        assert (result["scenario"], result["verdict"]) == (scenario, "ok"), (who, dst, result["problems"])
        through(state, result, active, standby, sender_host(state, who))
        pinged = api.ping(who, dst, timeout=30)
        lines.append(f"{who} -> {dst}: {scenario} {result['verdict']} via {active}; ping {pinged}")
        assert pinged, (who, dst)
    print("\n".join(lines))
    return lines


def respawned(host: str, router_id: str, timeout: float = 150) -> bool:
    """The L3 agent's process monitor runs the router's keepalived on ``host`` again (or it never stopped)."""
    return procs.wait_for(lambda: ha.keepalived_pid(host, router_id) is not None, timeout, 0.5)


@pytest.fixture
def restored(ha_lab: JsonDict) -> Iterator[JsonDict]:
    """After the test: no VRRP drop left, keepalived on both hosts, one active and one standby."""
    router = router_of(ha_lab)
    pids = {h: ha.keepalived_pid(h, router["id"]) for h in router["hosts"]}
    try:
        yield ha_lab
    finally:
        for host in router["hosts"]:
            ha.allow_vrrp(host, router["namespace"])
        for host in router["hosts"]:
            assert respawned(host, router["id"]), f"keepalived not respawned on {host} (was {pids[host]})"
        ha.wait_one_active(neutron.client(keystone.ADMIN), router["id"], timeout=150)
        assert procs.wait_for(lambda: len(ha.vip_holders(router["hosts"], router["namespace"])) == 1, 60, 0.5)
        assert api.ping("ubuntu-01", OUTSIDE, timeout=60)


def test_each_walk_goes_through_the_active_instance_and_pings(ha_lab: JsonDict) -> None:
    active, standby = roles(ha_lab)
    walks_agree(ha_lab, active, standby)


def test_the_routers_vips_answer_from_the_active_instance_and_its_ha_addresses_are_refused(ha_lab: JsonDict) -> None:
    active, standby = roles(ha_lab)
    router = router_of(ha_lab)
    graph = joined(ha_lab)
    for address in (QR_VIP, router["gateway_ip"]):
        result = explain(graph, StoredReports(), server(ha_lab, "ubuntu-01"), address)
        assert (result["scenario"], result["verdict"]) == ("to-router", "ok"), result["problems"]
        last = result["hops"][-1]
        assert last["node"] == f"netns:{active}:{router['namespace']}" and "answers" in last["what"], last
        assert f"active instance on {active} (standby on {standby})" in last["what"], last
        assert f"ip addr: {address}/" in last["evidence"], last
        assert api.ping("ubuntu-01", address, timeout=30), address
    ha_ports = ha.ha_ports(neutron.client(keystone.ADMIN), router["id"])
    for port in ha_ports:
        address = port["fixed_ips"][0]["ip_address"]
        for dst in (address, f"port:{port['id']}"):
            with pytest.raises(PathError, match=r"HA network \(169\.254\.192\.0/18\).*VRRP"):
                explain(graph, StoredReports(), server(ha_lab, "ubuntu-01"), dst)
        # what the data plane does with it (not a path the explainer walks: the active qrouter is on that
        # link-local network itself and may answer from its own ha- address, never a VM's destination)
        print(f"ubuntu-01 -> {address} ({port['binding:host_id']}'s ha-): ping {api.ping('ubuntu-01', address, 3)}")


def fetch_instance_id(vm: str) -> str | None:
    """A real HTTP GET from the VM's namespace in its own host's view (tests/test_path_metadata_lab.py's
    runs in controller's only: a VM on compute2 is not there); its body on 200, else None."""
    res = api.run_in(vm, ["curl", "-s", "-f", "-m", "8", INSTANCE_ID_URL])
    return res.stdout.strip() if res.returncode == 0 else None


def fetched_within(vm: str, timeout: float) -> tuple[list[str | None], float]:
    """Real GETs of the instance id from ``vm`` until one answers (each try's answer, and the time it took)."""
    t0, answers = time.monotonic(), [fetch_instance_id(vm)]
    while answers[-1] is None and time.monotonic() - t0 < timeout:
        time.sleep(1)
        answers.append(fetch_instance_id(vm))
    return answers, time.monotonic() - t0


def test_metadata_is_served_by_the_active_instances_proxy_and_fetched(ha_lab: JsonDict) -> None:
    active, standby = roles(ha_lab)
    graph = joined(ha_lab)
    for vm in ("cirros-01", "ubuntu-01"):
        result = explain(graph, StoredReports(), server(ha_lab, vm), METADATA_IP)
        codes = [(p["code"], p["severity"]) for p in result["problems"]]
        fetched, took = fetched_within(vm, 60)
        print(f"{vm} -> {METADATA_IP}: {result['scenario']} {result['verdict']} {codes}; GET {fetched} in {took:.1f} s")
        assert (result["scenario"], result["verdict"]) == ("to-metadata", "ok"), result["problems"]
        through(ha_lab, result, active, standby, sender_host(ha_lab, vm))
        assert fetched[-1] == ha_lab["vms"][vm]["server_id"], (vm, fetched)


def failed_over(state: JsonDict) -> tuple[str, str, float]:
    """keepalived stopped for real on the active host; once the VIPs are on the other host alone:
    (that host, the old active one, the seconds the VIPs took to move)."""
    router = router_of(state)
    old_active, old_standby = roles(state)
    t0 = time.monotonic()
    ha.stop_keepalived(old_active, router["id"])
    assert procs.wait_for(lambda: ha.vip_holders(router["hosts"], router["namespace"]) == [old_standby], 60, 0.1)
    return old_standby, old_active, time.monotonic() - t0


def test_after_a_failover_the_walks_go_through_the_other_host_and_ping(restored: JsonDict) -> None:
    old_standby, old_active, moved = failed_over(restored)
    early = explain(joined(restored), StoredReports(), server(restored, "ubuntu-01"), OUTSIDE)
    early_codes = [(p["code"], p["severity"]) for p in early["problems"]]
    print(f"VIPs on {old_standby} after {moved:.1f} s; walk then: {early['verdict']} {early_codes}")
    assert early["verdict"] == "ok" and set(early_codes) <= {(Problem.HA_STATE_MISMATCH, "warn")}, early
    through(restored, early, old_standby, old_active, str(restored["vms"]["ubuntu-01"]["host"]))
    new_active, new_standby = roles(restored)
    assert (new_active, new_standby) == (old_standby, old_active)
    walks_agree(restored, new_active, new_standby)


def test_no_instance_holding_the_vips_is_ha_no_active_and_the_pings_fail(restored: JsonDict) -> None:
    router = router_of(restored)
    active, standby = roles(restored)
    ha.stop_keepalived(standby, router["id"])  # first: the standby cannot take over
    ha.stop_keepalived(active, router["id"])
    assert procs.wait_for(lambda: ha.vip_holders(router["hosts"], router["namespace"]) == [], 10, 0.1)
    graph = joined(restored)
    results = {dst: explain(graph, StoredReports(), server(restored, "ubuntu-01"), dst) for dst in (OUTSIDE, QR_VIP)}
    pinged = {dst: api.ping("ubuntu-01", dst, timeout=2) for dst in results}
    still_none = ha.vip_holders(router["hosts"], router["namespace"]) == []
    for dst, result in results.items():
        codes = [(p["code"], p["severity"]) for p in result["problems"]]
        print(f"both keepalived stopped: ubuntu-01 -> {dst} {result['verdict']} {codes}; ping {pinged[dst]}")
        assert result["verdict"] == "broken" and (Problem.HA_NO_ACTIVE, "fail") in codes, result["problems"]
    print(f"still no VIPs after the pings: {still_none}")
    assert still_none and not any(pinged.values()), pinged


def qg_tx(state: JsonDict) -> dict[str, int]:
    router = router_of(state)
    return {host: ha.tx_packets(host, router["namespace"]) for host in router["hosts"]}


def test_vrrp_dropped_between_the_instances_is_ha_split_brain_and_the_path_unknown(restored: JsonDict) -> None:
    router = router_of(restored)
    roles(restored)
    t0 = time.monotonic()
    try:
        for host in router["hosts"]:
            ha.drop_vrrp(host, router["namespace"])
        both = procs.wait_for(lambda: len(ha.vip_holders(router["hosts"], router["namespace"])) == 2, 60, 0.2)
        took = time.monotonic() - t0
        assert both, ha.vip_holders(router["hosts"], router["namespace"])
        states = ha.ha_states(neutron.client(keystone.ADMIN), router["id"])
        print(f"VRRP dropped: two masters after {took:.1f} s; Neutron {states}")
        graph = joined(restored)
        for who, src, dst, scenario in questions(restored):
            result = explain(graph, StoredReports(), src, dst)
            codes = [(p["code"], p["severity"]) for p in result["problems"]]
            before = qg_tx(restored)
            got = replies(who, dst)
            moved = {h: n - before[h] for h, n in qg_tx(restored).items()}
            print(f"  {who} -> {dst}: {result['verdict']} {codes}; {got}/{BURST} replies; qg- tx moved {moved}")
            assert (result["scenario"], result["verdict"]) == (scenario, "unknown"), result["problems"]
            assert codes == [(Problem.HA_SPLIT_BRAIN, "unknown")], codes
            assert not any(h["node"].endswith(router["namespace"]) for h in result["hops"]), result["hops"]
    finally:
        for host in router["hosts"]:
            ha.allow_vrrp(host, router["namespace"])
    t1 = time.monotonic()
    assert procs.wait_for(lambda: len(ha.vip_holders(router["hosts"], router["namespace"])) == 1, 60, 0.2)
    print(f"VRRP allowed again: one master after {time.monotonic() - t1:.1f} s")
    assert not any(ha.vrrp_dropped(h, router["namespace"]) for h in router["hosts"])
