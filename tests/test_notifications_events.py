"""topology/notifications/events.py and apply.patched over real notifications.

tests/data/notifications/lab-demo-changes.json holds the 40 notifications Neutron 29 emitted
on the lab while demo made and removed a network, a subnet, a port, a router (interface,
gateway), a floating IP (associated, disassociated) and a security group with a rule
(captured with kombu from the lab's notifications vhost; the envelopes kept as received,
their ``_context_*`` fields but the project id dropped: they carry a token).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from topology.notifications.apply import answers_of, grouped, patched
from topology.notifications.events import BadEvent, Event, Lookup, Plan, UnknownEvent, parse_envelope, plan_for

SAMPLES = Path(__file__).parent / "data" / "notifications" / "lab-demo-changes.json"


def samples() -> list[Any]:
    return list(json.loads(SAMPLES.read_text()))


def events_of(event_type: str) -> list[Event]:
    found = [e for e in map(parse_envelope, samples()) if e.event_type == event_type]
    assert found, event_type
    return found


def one(event_type: str) -> Event:
    return events_of(event_type)[0]


def test_every_captured_notification_is_read() -> None:
    read = [parse_envelope(body) for body in samples()]
    assert len(read) == 40
    assert {e.project_id for e in read} == {read[0].project_id} and read[0].project_id
    kinds = {e.event_type for e in read}
    assert {"port.create.end", "router.interface.create", "floatingip.update.end", "network.delete.end"} <= kinds
    for event in read:
        plan_for(event)  # none unknown, none malformed


def test_start_events_name_nothing() -> None:
    for event in map(parse_envelope, samples()):
        if event.event_type.endswith(".start"):
            assert plan_for(event) == Plan()


def test_a_port_create_rereads_the_port() -> None:
    event = one("port.create.end")
    port = event.payload["port"]["id"]
    assert plan_for(event) == Plan(frozenset({Lookup("ports", "id", port)}))


def test_a_port_delete_rereads_the_port_by_the_id_of_the_payload() -> None:
    event = one("port.delete.end")
    assert plan_for(event).lookups == {Lookup("ports", "id", event.payload["port_id"])}


def test_a_router_update_rereads_the_router_its_ports_and_the_scheduling() -> None:
    event = one("router.update.end")
    router = event.payload["router"]["id"]
    plan = plan_for(event)
    assert plan.lookups == {Lookup("routers", "id", router), Lookup("ports", "device_id", router)}
    assert plan.scheduling


def test_an_interface_names_its_router_port_and_subnet() -> None:
    event = one("router.interface.create")
    info = event.payload["router_interface"]
    plan = plan_for(event)
    assert {
        Lookup("routers", "id", info["id"]),
        Lookup("ports", "id", info["port_id"]),
        Lookup("subnets", "id", info["subnet_id"]),
    } <= plan.lookups


def test_a_floatingip_association_rereads_the_floatingip() -> None:
    for event in events_of("floatingip.update.end"):
        fip = event.payload["floatingip"]["id"]
        assert Lookup("floatingips", "id", fip) in plan_for(event).lookups


def test_a_network_delete_rereads_what_went_with_it() -> None:
    event = one("network.delete.end")
    network = event.payload["network_id"]
    assert plan_for(event).lookups == {
        Lookup("networks", "id", network),
        Lookup("subnets", "network_id", network),
        Lookup("ports", "network_id", network),
    }


def test_a_rule_delete_rereads_its_group() -> None:
    event = one("security_group_rule.delete.end")
    rule = event.payload["security_group_rule"]
    assert plan_for(event).lookups == {
        Lookup("security_group_rules", "id", rule["id"]),
        Lookup("security_groups", "id", rule["security_group_id"]),
    }


def test_a_bulk_create_names_every_object() -> None:
    event = Event("port.create.end", {"ports": [{"id": "p1"}, {"id": "p2"}]})
    assert plan_for(event).lookups == {Lookup("ports", "id", "p1"), Lookup("ports", "id", "p2")}


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        "[1, 2]",
        {"oslo.version": "2.0", "oslo.message": "{"},
        {"oslo.version": "2.0", "oslo.message": "[]"},
        {"event_type": "", "payload": {}},
        {"event_type": "port.create.end", "payload": "x"},
        {"payload": {}},
    ],
)
def test_a_malformed_envelope_is_refused(body: object) -> None:
    with pytest.raises(BadEvent):
        parse_envelope(body)


@pytest.mark.parametrize(
    "event",
    [
        Event("port.create.end", {}),
        Event("port.update.end", {"port": {"name": "no id"}}),
        Event("port.delete.end", {"port": "x"}),
        Event("router.interface.create", {"router_interface": {"port_id": "p"}}),
        Event("port.create.end", {"ports": [{"id": 5}]}),
    ],
)
def test_a_payload_without_ids_is_refused(event: Event) -> None:
    with pytest.raises(BadEvent):
        plan_for(event)


def test_an_unknown_event_is_told_apart() -> None:
    with pytest.raises(UnknownEvent):
        plan_for(Event("trunk.create.end", {"trunk": {"id": "t"}}))
    assert plan_for(Event("tag.create", {"obj_resource": "networks"})) == Plan()
    assert plan_for(Event("l3_agent.router.add", {"agent": {"id": "a", "router_id": "r"}})) == Plan(scheduling=True)


# --------------------------------------------------------------------------- the patch


def snapshot() -> dict[str, Any]:
    return {
        "ports": [
            {"id": "p1", "device_id": "r1", "name": "gw"},
            {"id": "p2", "device_id": "vm", "name": "vm"},
            {"id": "p3", "device_id": "r1", "name": "qr"},
        ],
        "routers": [{"id": "r1", "name": "old"}],
        "agents": [{"id": "a1"}],
    }


def test_patched_replaces_in_place_adds_and_removes() -> None:
    fresh = {
        Lookup("ports", "device_id", "r1"): [{"id": "p3", "device_id": "r1", "name": "qr2"}],  # p1 gone
        Lookup("ports", "id", "p9"): [{"id": "p9", "device_id": "vm", "name": "new"}],
        Lookup("routers", "id", "r1"): [{"id": "r1", "name": "new"}],
    }
    data = snapshot()
    out = patched(data, fresh)
    assert [p["id"] for p in out["ports"]] == ["p2", "p3", "p9"]
    assert out["ports"][1]["name"] == "qr2" and out["routers"] == [{"id": "r1", "name": "new"}]
    assert out["agents"] == data["agents"] and data == snapshot()  # the input unchanged


def test_an_object_the_api_no_longer_lists_leaves_the_snapshot() -> None:
    out = patched(snapshot(), {Lookup("ports", "id", "p2"): [], Lookup("routers", "id", "r1"): []})
    assert [p["id"] for p in out["ports"]] == ["p1", "p3"] and out["routers"] == []


def test_patched_takes_the_scheduling_whole() -> None:
    scheduling = {"l3_agent_routers": [{"agent_id": "a1", "router_ids": ["r1"]}], "dhcp_agent_networks": []}
    assert patched(snapshot(), {}, scheduling)["l3_agent_routers"] == scheduling["l3_agent_routers"]


def test_one_call_per_collection_and_field_split_back() -> None:
    lookups = frozenset({Lookup("ports", "id", "b"), Lookup("ports", "id", "a"), Lookup("ports", "device_id", "r")})
    assert grouped(lookups) == {("ports", "device_id"): ["r"], ("ports", "id"): ["a", "b"]}
    answer = answers_of("ports", "id", ["a", "b"], [{"id": "a"}])
    assert answer == {Lookup("ports", "id", "a"): [{"id": "a"}], Lookup("ports", "id", "b"): []}


def test_an_agent_delete_rereads_the_agent_and_the_scheduling() -> None:
    # Seen on the lab (a host's agents deleted by lab/neutron.py delete_agents): {"agent_id": ..., "agent": {...}}.
    plan = plan_for(Event("agent.delete.end", {"agent_id": "a1", "agent": {"id": "a1", "host": "compute2"}}))
    assert plan == Plan(frozenset({Lookup("agents", "id", "a1")}), scheduling=True)
