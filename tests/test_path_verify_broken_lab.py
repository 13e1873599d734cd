"""Broken states made for real on allinone, each verified with the nodes' tracers (issue 16): the tracer's
answer shows the break at the hop the explainer names, and the active check's real ping agrees.

The states are test_path_broken.py's (tests/broken_states.py makes and undoes them through Neutron);
the agent of ``controller`` runs for real with its probe channel to a real daphne, with active_probes on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from lab import api as lab_api
from tests.agent_feed import HOST, agent_feed
from tests.broken_states import Cloud, fips_disassociated, gateway_cleared, interface_removed, rules_removed, wait_until
from tests.conftest import ARTIFACTS
from tests.lab_jobs import call
from tests.test_actions_lab import login
from tests.test_actions_lab import shared_broker_restored as shared_broker_restored  # autouse there, so here too
from tests.test_path_broken import pings_again
from tests.test_path_lab import server
from tests.test_probes_lab import LOGS, wait_connected
from tests.test_topology_lab import refresh_all

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]
OUTSIDE = "192.168.1.1"


@pytest.fixture
def feed(lab: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("NEUTRON_MAP_AGENT_ACTIVE_PROBES", "true")
    with agent_feed(settings.DATABASES["default"]["NAME"], LOGS):
        wait_connected(HOST)
        refresh_all(lab["host"])
        yield


def verified(client: Client, src: str, dst: str, name: str) -> dict[str, Any]:
    body = dict(client.get("/api/v1/path/", {"src": src, "dst": dst, "verify": "1"}).json())
    (ARTIFACTS / f"verify-broken-{name}.json").write_text(json.dumps(body, indent=1))
    return body


def actively(client: Client, src: str, dst: str, name: str) -> dict[str, Any]:
    response = call(client, "POST", "/path/active/", {"src": src, "dst": dst})
    body = dict(response.json())
    (ARTIFACTS / f"active-broken-{name}.json").write_text(json.dumps(body, indent=1))
    return body


def failed(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [h for h in body["hops"] if h["status"] == "fail"]


def test_a_cleared_gateway_is_the_routers_namespace_routing_nothing_and_the_real_ping_dies_there(
    lab: dict[str, Any], feed: None, admin_cloud: Cloud
) -> None:
    admin, ubuntu = login(lab, "admin"), server(lab, "ubuntu-01")
    router = lab["routers"]["router1"]
    with fips_disassociated(admin_cloud, lab, "cirros-01"), gateway_cleared(admin_cloud, lab, "router1"):
        # the L3 agent has applied it: no default route left in the qrouter namespace
        assert wait_until(lambda: not lab_api.run_on(
            HOST, ["ip", "netns", "exec", router["namespace"], "ip", "route", "show", "default"], capture=True
        ).stdout.strip(), 60)  # fmt: skip
        refresh_all(lab["host"])
        body = verified(admin, ubuntu, OUTSIDE, "gateway")
        (hop,) = failed(body)
        assert hop["node"] == f"router:{router['id']}", hop
        check = hop["verify"]
        # the explainer stops at router1; its qrouter namespace, asked by the kernel, routes nothing there
        assert (check["state"], check["tracer"], check["host"]) == ("agree", "ip route get", HOST), check
        assert check["packet"] == {"namespace": router["namespace"], "dst": OUTSIDE}, check
        assert check["answer"].startswith("no route"), check
        sent = actively(admin, ubuntu, OUTSIDE, "gateway")["active"]
        assert sent["answered"] is False and sent["from"]["namespace"] == lab["vms"]["ubuntu-01"]["namespace"]
    pings_again("ubuntu-01", OUTSIDE)


def test_a_removed_interface_leaves_nothing_to_trace_and_says_so(
    lab: dict[str, Any], feed: None, admin_cloud: Cloud
) -> None:
    admin, ubuntu = login(lab, "admin"), server(lab, "ubuntu-01")
    with (
        fips_disassociated(admin_cloud, lab, "cirros-01"),
        interface_removed(admin_cloud, lab, "router1", "private_subnet"),
    ):
        refresh_all(lab["host"])
        (hop,) = failed(verified(admin, ubuntu, OUTSIDE, "interface"))
        assert hop["node"] == f"subnet:{lab['subnets']['private_subnet']}"
        assert hop["verify"]["state"] == "not_checked"
        assert "no router" in hop["verify"]["reason"], hop["verify"]
        sent = actively(admin, ubuntu, OUTSIDE, "interface")["active"]
        assert sent["answered"] is False
    pings_again("ubuntu-01", OUTSIDE)


def test_a_security_group_drop_shows_in_the_ports_fallback_rule_moved_by_the_real_ping(
    lab: dict[str, Any], feed: None, admin_cloud: Cloud
) -> None:
    """No tracer sees iptables; the active check's counters do: cirros-01's ingress chain sends the ping to
    its fallback (drop) rule once ICMP from anywhere and from the group's members are both removed."""
    admin, ubuntu, cirros = login(lab, "admin"), server(lab, "ubuntu-01"), lab["vms"]["cirros-01"]

    def icmp_in(rule: Any) -> bool:
        return bool(rule.direction == "ingress" and rule.ether_type == "IPv4" and rule.protocol in ("icmp", None))

    chain = f"-A neutron-openvswi-i{cirros['port_id'][:10]} "
    with rules_removed(admin_cloud, lab["security_groups"]["demo:default"], icmp_in, "ICMP and members' rules"):
        # the OVS agent has rewritten cirros-01's chain: no ICMP or members' (ipset) rule left in it
        assert wait_until(lambda: not any(
            line.startswith(chain) and ("-p icmp" in line or "--match-set NIPv4" in line)
            for line in lab_api.run_on(HOST, ["iptables-save", "-t", "filter"], capture=True).stdout.splitlines()
        ), 60)  # fmt: skip
        refresh_all(lab["host"])
        body = verified(admin, ubuntu, server(lab, "cirros-01"), "sg")
        (hop,) = failed(body)
        assert hop["node"] == f"bridge:{HOST}:qbr{cirros['port_id'][:11]}" and "sg_no_ingress" in [
            p["code"] for p in body["problems"]
        ]
        assert hop["verify"]["state"] == "not_checked" and "iptables" in hop["verify"]["reason"]
        sent = actively(admin, ubuntu, server(lab, "cirros-01"), "sg")
        assert sent["active"]["answered"] is False
        at_qbr = next(h["active"] for h in sent["hops"] if h["node"] == hop["node"])
        fallback = f"neutron-openvswi-i{cirros['port_id'][:10]}"
        assert any(m["counter"].startswith(fallback) and "sg-fallback" in m["counter"] for m in at_qbr["moved"]), at_qbr
    pings_again("ubuntu-01", cirros["ip"])
