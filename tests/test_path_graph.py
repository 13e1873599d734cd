"""The path API's indexed graph moved on by the history's deltas (topology/path_graph.py, path/topo_delta.py).

Differential, off the lab: the synthetic cloud stored and joined for real by the graph service; a
churn (bench/history.py's mix, plus a floating IP moved, a router's gateway cleared and set again, a
VM port's address changed, one to three revisions between two questions); after each, the Topo
moved on from the one held equals the Topo built afresh from the stored graph: the same nodes, the
same ends in every edge list and address index, the same explanations of every VM's way out, and
the one it was moved from is left as it was.
"""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from bench.history import churn_step
from bench.path import OUTSIDE, add_gateways_and_fips
from tests.history_inputs import Inputs, rebuild
from topology import path_graph
from topology.api_path import StoredReports
from topology.history.delta import canonical
from topology.history.models import GraphRevision
from topology.models import GraphState
from topology.path import Topo, explain_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def nothing_held() -> None:
    path_graph.forget()


def shape(topo: Topo) -> dict[str, Any]:
    """What a Topo holds, lists as multisets (their order is the writer's: see topo_delta.py)."""

    def lists(table: dict[Any, list[str]]) -> dict[Any, list[str]]:
        return {k: sorted(v) for k, v in table.items() if v}

    return {
        "nodes": topo.nodes,
        "out": lists(topo.out),
        "inn": lists(topo.inn),
        "fips": topo.fips_by_address,
        "ports": lists(topo.ports_by_ip),
        "routers": lists(topo.routers_by_ip),
        "dhcp": lists(topo.dhcp_by_ip),
        "external": sorted((str(net), i) for net, i in topo.external_subnets),
    }


def fresh() -> Topo:
    state = GraphState.objects.get(id=1)
    return Topo(copy.deepcopy(state.graph), {})


def ways_out(inputs: Inputs, topo: Topo) -> list[Any]:
    reports = topo.with_reports(StoredReports())
    ports = [p for p in inputs.cloud["ports"] if p["device_owner"] == "compute:nova"]
    return [explain_in(reports, f"port:{p['id']}", OUTSIDE, "icmp") for p in ports]


def change(inputs: Inputs, rng: random.Random, n: int) -> None:
    """One change to the stored inputs: the churn's mix, or one that moves an address index."""
    cloud = inputs.cloud
    which = n % 6
    if which == 1 and cloud["floatingips"]:  # a floating IP moved to another VM port (or back)
        fip = rng.choice(cloud["floatingips"])
        taken = {f["port_id"] for f in cloud["floatingips"]}
        free = [p for p in cloud["ports"] if p["device_owner"] == "compute:nova" and p["id"] not in taken]
        if free:
            port = rng.choice(free)
            fip.update(port_id=port["id"], fixed_ip_address=port["fixed_ips"][0]["ip_address"])
    elif which == 3:  # a router's gateway cleared, or set again: its gateway port goes and comes back
        router = cloud["routers"][0]
        if "held" in router:
            router["external_gateway_info"] = router.pop("held")
            cloud["ports"].append(router.pop("held_port"))
        else:
            router["held"] = router["external_gateway_info"]
            router["external_gateway_info"] = None
            port = next(
                p
                for p in cloud["ports"]
                if p["device_id"] == router["id"] and p["device_owner"] == "network:router_gateway"
            )
            cloud["ports"].remove(port)
            router["held_port"] = port
    elif which == 5:  # a VM port's address changed
        port = rng.choice([p for p in cloud["ports"] if p["device_owner"] == "compute:nova"])
        port["fixed_ips"][0]["ip_address"] = f"10.{200 + n % 50}.{n % 250}.{7 + n % 200}"
    else:
        kind, hosts = churn_step(cloud, inputs.reports, rng, n)
        inputs.store_reports(hosts | set(inputs.reports))
        if kind not in ("port", "vm"):
            return
    stored = copy.deepcopy(cloud)
    for router in stored["routers"]:
        router.pop("held", None)
        router.pop("held_port", None)
    inputs.cloud, saved = stored, inputs.cloud
    inputs.store_cloud()
    inputs.cloud = saved


def test_the_moved_topo_is_the_topo_built_afresh_at_every_revision() -> None:
    inputs = Inputs(hosts=4, ports=16, projects=2)
    add_gateways_and_fips(inputs.cloud, inputs.reports, fip_every=3)
    inputs.store_all()
    rebuild()
    assert path_graph.current_indexed().how == "built"
    rng = random.Random(18)
    moved = 0
    seen: dict[str, set[str]] = {"routers": set(), "ports": set(), "nat": set()}
    for n in range(30):
        held = path_graph.current_indexed()
        before = copy.deepcopy(shape(held.topo))
        for _ in range(1 + n % 3):
            change(inputs, rng, n)
            rebuild()
        got = path_graph.current_indexed()
        assert got.key == path_graph.graph_key()
        moved += got.how == "moved"
        built = fresh()
        assert shape(got.topo) == shape(built), n
        for name in ("routers", "ports"):
            seen[name].add(repr(shape(built)[name]))
        seen["nat"].add(repr(sorted((k, v) for k, v in shape(built)["out"].items() if k[1] == "nat")))
        assert ways_out(inputs, got.topo) == ways_out(inputs, built), n
        assert canonical(got.graph) == canonical(GraphState.objects.get(id=1).graph)
        assert shape(held.topo) == before  # the revision held is left as it was (copy-on-write)
    assert [len(seen[k]) > n for k, n in (("routers", 1), ("ports", 5), ("nat", 3))] == [True] * 3, seen  # moved
    assert moved >= 28  # all but where a revision made nothing new (no delta recorded)


def test_built_afresh_when_the_deltas_cannot_say_it() -> None:
    inputs = Inputs(hosts=3, ports=12, projects=2)
    inputs.store_all()
    rebuild()
    rng = random.Random(3)

    def step(n: int) -> None:
        churn_step(inputs.cloud, inputs.reports, rng, n)
        inputs.store_all()

    assert path_graph.current_indexed().how == "built"
    step(0)
    rebuild()
    assert path_graph.current_indexed().how == "moved"
    step(1)
    revision, _ = rebuild()
    GraphRevision.objects.filter(revision=revision).delete()  # a row gone (by hand): no delta to apply
    assert path_graph.current_indexed().how == "built"
    assert shape(path_graph.current_indexed().topo) == shape(fresh())
    step(2)
    rebuild()
    step(3)
    rebuild()
    path_graph.MAX_DELTAS, kept = 1, path_graph.MAX_DELTAS
    try:
        assert path_graph.current_indexed().how == "built"  # two behind, one allowed
    finally:
        path_graph.MAX_DELTAS = kept
    made = GraphState.objects.get(id=1).generated_at
    assert made is not None
    GraphState.objects.filter(id=1).update(generated_at=made.replace(year=2000))  # a reset: another state
    assert path_graph.current_indexed().how == "built"
