"""``GET /api/v1/path/?...&verify=1`` on the real lab (allinone): the explainer against the nodes' own tracers.

The agent of ``controller`` runs for real and keeps its channel to a real
daphne (tests/agent_feed.py, as in test_probes_lab.py); the path API is
asked as the real admin, demo and alt users. For the walks of
test_path_lab.py, at every OVS bridge hop the port the explainer's walk
leaves by (computed here from the hops, not from the verify object) is
ofproto/trace's final output, and at every router namespace hop the device
is ``ip route get``'s. A broken state made for real (br-ex's outside port
removed) shows the tracer's break at the hop the explainer names; an
OpenFlow rule the explainer does not model (a real drop flow) is a
disagreement, listed first.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openstack.connection
import pytest
from django.conf import settings
from django.test import Client, override_settings

from lab import api as lab_api
from tests.agent_feed import HOST, agent_feed
from tests.broken_states import outside_port_removed
from tests.test_actions_lab import login
from tests.test_actions_lab import shared_broker_restored as shared_broker_restored  # autouse there, so here too
from tests.test_path_broken import pings_again
from tests.test_path_lab import server
from tests.test_probes_lab import LOGS, wait_connected
from tests.test_topology_lab import refresh_all

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]
OUTSIDE = "192.168.1.1"
COOKIE = "0x7e57ab1e"


def verify(client: Client, src: str, dst: str, probe: str = "icmp") -> Any:
    return client.get("/api/v1/path/", {"src": src, "dst": dst, "probe": probe, "verify": "1"})


def walks(lab: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {
        "same-network": (server(lab, "cirros-01"), server(lab, "ubuntu-01")),
        "snat": (server(lab, "ubuntu-01"), OUTSIDE),
        "fip-out": (server(lab, "cirros-01"), OUTSIDE),
        "inbound-fip": (OUTSIDE, lab["vms"]["cirros-01"]["floating_ip"]),
    }


def learned(lab: dict[str, Any]) -> None:
    """Real traffic first: br-int/br-ex learn the MACs, the qrouter resolves the outside's."""
    assert lab_api.ping("cirros-01", lab["vms"]["ubuntu-01"]["ip"], timeout=90)
    assert lab_api.ping("ubuntu-01", OUTSIDE, timeout=90)
    assert lab_api.ping("cirros-01", OUTSIDE, timeout=90)
    assert lab_api.ping("outside", lab["vms"]["cirros-01"]["floating_ip"], timeout=90)


@pytest.fixture
def feed(lab: dict[str, Any]) -> Iterator[None]:
    with agent_feed(settings.DATABASES["default"]["NAME"], LOGS):
        wait_connected(HOST)
        refresh_all(lab["host"])
        yield


def is_ovs_bridge(node: str) -> bool:
    return node.startswith(f"bridge:{HOST}:br-")


def explainer_exit(hops: list[dict[str, Any]], at: int) -> str:
    """The port the walk leaves the OVS datapath by after hop ``at``: the next interface hop that is
    neither a patch port nor a bridge (the patch ports' names are int-br-ex, phy-br-ex, patch-*)."""
    for hop in hops[at + 1 :]:
        node = hop["node"]
        if is_ovs_bridge(node) or node.endswith(("int-br-ex", "phy-br-ex", "patch-tun", "patch-int")):
            continue
        assert node.startswith(f"iface:{HOST}:-:"), (at, node)
        return node.rsplit(":", 1)[1]
    raise AssertionError(f"no port after hop {at + 1}")


def test_a_host_whose_agent_is_not_connected_answers_at_once(lab: dict[str, Any]) -> None:
    refresh_all(lab["host"])  # a report, but no agent channel open in this test
    body = verify(login(lab, "admin"), server(lab, "ubuntu-01"), OUTSIDE).json()
    assert body["verify"]["probes_sent"] == 0 and body["verify"]["agree"] == 0, body["verify"]
    assert body["verify"]["hosts"] == {HOST: f"the agent of host {HOST} is not connected"}
    bridges = [h for h in body["hops"] if is_ovs_bridge(h["node"])]
    assert bridges and all(h["verify"]["reason"] == f"the agent of host {HOST} is not connected" for h in bridges)


def test_every_bridge_and_router_hop_agrees_with_the_tracer(lab: dict[str, Any], feed: None) -> None:
    learned(lab)
    admin = login(lab, "admin")
    for name, (src, dst) in walks(lab).items():
        response = verify(admin, src, dst)
        assert response.status_code == 200, (name, response.content[:600])
        body = response.json()
        assert body["verdict"] == "ok" and body["verify"]["disagree"] == 0, (name, body["problems"])
        hops = body["hops"]
        traced = 0
        for at, hop in enumerate(hops):
            check = hop["verify"]
            if is_ovs_bridge(hop["node"]):
                assert check["state"] == "agree" and check["tracer"] == "ofproto/trace", (name, at, check)
                port = explainer_exit(hops, at)
                assert [o.split(" ")[0] for o in check["detail"]["outputs"]] == [port], (name, at, check)
                traced += 1
            elif hop["node"].startswith(f"netns:{HOST}:qrouter-"):
                assert check["state"] == "agree" and check["tracer"] == "ip route get", (name, at, check)
                leaves_by = hops[at + 1]["node"].rsplit(":", 1)[1]
                assert check["detail"]["route"]["dev"] == leaves_by, (name, at, check)
                traced += 1
        assert traced >= (1 if name == "same-network" else 3), (name, traced)
        assert body["verify"]["agree"] >= traced


def test_a_removed_outside_port_shows_at_the_hop_the_explainer_names(lab: dict[str, Any], feed: None) -> None:
    learned(lab)
    admin = login(lab, "admin")
    with outside_port_removed(lab["host"], lab["outside"]["port"]):
        refresh_all(lab["host"])
        body = verify(admin, server(lab, "cirros-01"), OUTSIDE).json()
        failed = [h for h in body["hops"] if h["status"] == "fail"]
        assert [h["node"] for h in failed] == [f"bridge:{HOST}:br-ex"], body["hops"]
        check = failed[0]["verify"]
        # the explainer says it stops at br-ex; the tracer's answer: nothing leaves to the outside any more
        assert check["state"] == "agree" and check["model"].startswith("stops: hop"), check
        assert check["detail"]["outputs"] == [] and "ex-outside" not in str(check["detail"]), check
    refresh_all(lab["host"])
    pings_again("cirros-01", OUTSIDE)
    ok = verify(admin, server(lab, "cirros-01"), OUTSIDE).json()
    br_ex = next(h for h in ok["hops"] if h["node"] == f"bridge:{HOST}:br-ex")
    assert br_ex["verify"]["detail"]["outputs"] == [f"{lab['outside']['port']} (br-ex)"], br_ex["verify"]


def test_a_flow_the_explainer_does_not_model_is_a_disagreement_listed_first(lab: dict[str, Any], feed: None) -> None:
    """A real drop flow on br-int for TCP/9 from ubuntu-01's qvo: the walk reads flows but does not run them."""
    port = lab["vms"]["ubuntu-01"]["port_id"]
    qvo = f"qvo{port[:11]}"
    flow = f"cookie={COOKIE},priority=200,tcp,in_port={qvo},tp_dst=9,actions=drop"
    added = lab_api.run_on(lab["host"], ["ovs-ofctl", "-O", "OpenFlow13", "add-flow", "br-int", flow], capture=True)
    assert added.returncode == 0, added.stderr
    try:
        body = verify(login(lab, "admin"), server(lab, "ubuntu-01"), OUTSIDE, "tcp:9").json()
    finally:
        lab_api.run_on(lab["host"], ["ovs-ofctl", "-O", "OpenFlow13", "del-flows", "br-int", f"cookie={COOKIE}/-1"])
    first_bridge = next(h for h in body["hops"] if is_ovs_bridge(h["node"]))
    check = first_bridge["verify"]
    assert check["state"] == "disagree" and check["answer"] == "dropped", check
    assert check["packet"]["tp_dst"] == 9 and check["packet"]["proto"] == "tcp"
    assert first_bridge["status"] == "warn"
    assert body["problems"][0]["code"] == "tracer_disagrees" and body["problems"][0]["node"] == first_bridge["node"]
    assert "dropped" in body["problems"][0]["message"] and "ofproto/trace" in body["problems"][0]["message"]
    assert body["verify"]["disagree"] == 1, body["verify"]


def test_tenants_verify_only_their_own_paths_redacted(lab: dict[str, Any], feed: None) -> None:
    cirros = lab["vms"]["cirros-01"]
    demo, alt = login(lab, "demo"), login(lab, "alt")
    refused = verify(demo, OUTSIDE, cirros["floating_ip"])
    assert refused.status_code == 403, refused.content[:300]  # admin only by default
    with override_settings(DASHBOARD_PATH_VERIFY_FOR_PROJECTS=True):
        own = verify(demo, OUTSIDE, cirros["floating_ip"])
        assert own.status_code == 200, own.content[:600]
        body = own.json()
        assert body["verify"]["agree"] >= 3 and "hosts" not in body["verify"], body["verify"]
        hidden = [h for h in body["hops"] if not h["node"]]
        assert hidden and all(set(h["verify"]) == {"state", "tracer"} for h in hidden), hidden
        for ask in ((OUTSIDE, f"port:{cirros['port_id']}"), (server(lab, "cirros-01"), OUTSIDE)):
            other = verify(alt, *ask)
            assert other.status_code == 404, other.content[:300]
            text = other.content.decode()
            assert cirros["ip"] not in text and cirros["port_id"][:8] not in text and cirros["mac"] not in text


def test_demo_cannot_verify_alts_path(
    lab: dict[str, Any], feed: None, alt_cloud: openstack.connection.Connection
) -> None:
    """Vice versa: a port of alt's own (a network and port made for the test), as demo and as admin."""
    net = alt_cloud.network.create_network(name="verify-alt-net")
    try:
        subnet = alt_cloud.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.93.0.0/24")
        port = alt_cloud.network.create_port(network_id=net.id, name="verify-alt-port")
        address = port.fixed_ips[0]["ip_address"]
        refresh_all(lab["host"])
        with override_settings(DASHBOARD_PATH_VERIFY_FOR_PROJECTS=True):
            demo = verify(login(lab, "demo"), f"port:{port.id}", OUTSIDE)
        assert demo.status_code == 404, demo.content[:300]
        text = demo.content.decode()
        assert (
            port.id[:8] not in text and address not in text and "verify-alt" not in text and subnet.id[:8] not in text
        )
        admin = verify(login(lab, "admin"), f"port:{port.id}", OUTSIDE)
        assert admin.status_code == 200 and "verify" in admin.json(), admin.content[:300]
    finally:
        for leftover in alt_cloud.network.ports(network_id=net.id):
            alt_cloud.network.delete_port(leftover.id)
        alt_cloud.network.delete_network(net.id, ignore_missing=True)


def test_a_hostile_argument_is_refused_before_the_agent(lab: dict[str, Any], feed: None) -> None:
    response = verify(login(lab, "admin"), server(lab, "ubuntu-01"), OUTSIDE, "tcp:70000")
    if response.status_code == 400:  # the path's own argument check got there first
        assert "70000" in response.json()["detail"] or "port" in response.json()["detail"]
        return
    body = response.json()
    traces = [h["verify"] for h in body["hops"] if h["verify"].get("tracer") == "ofproto/trace"]
    assert traces and all(c["state"] == "not_checked" for c in traces)
    assert all(c["reason"].startswith("refused before the agent: tp_dst must be an integer") for c in traces)
