"""The writer's re-join of a few hosts (topology/graphservice/rejoin.py) against a cold join.

A report that changes only what stays on its host's nodes is re-joined alone (the
writer says so: ``last.rejoined``); one that changes what the cross joins read (a
binding's devices, a port moving hosts) and a cloud change join the whole graph.
Either way, after every change the writer's graph, its delta and its stored parts
are a cold join's (``Run.apply_and_check`` of tests/test_graphservice.py), over
synthetic clouds, the same with gateways, floating IPs and l2population tunnels
(the lab's shape), and fuzzed reports.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from bench.ingest_stats import with_marker
from bench.path import add_gateways_and_fips, add_network_node_tunnels
from bench.synthetic import synthetic_cloud
from tests.test_graphservice import (
    Published,
    Run,
    fuzzed_report,
    port_bound_elsewhere,
    published,  # noqa: F401 (the fixture)
    report_flips_a_tap,
    store_cloud,
    store_report,
)
from topology import graph as g

JsonDict = dict[str, Any]
pytestmark = pytest.mark.django_db
Change = Callable[[Run, random.Random], tuple[tuple[str, ...], bool]]


def without_markers(report: JsonDict) -> JsonDict:
    return {**report, "interfaces": [i for i in report["interfaces"] if not str(i.get("name")).startswith("mk")]}


def report_adds_a_marker(run: Run, rnd: random.Random) -> tuple[tuple[str, ...], bool]:
    """As bench/ingest.py posts: the host's report with a new interface mk<seq> (the last one gone)."""
    host = rnd.choice(sorted(run.reports))
    report = with_marker(without_markers(run.reports[host]), rnd.randrange(10**6), timezone.now().isoformat())
    run.reports[host] = report
    store_report(host, report)
    return (host,), False


def two_hosts_at_once(run: Run, rnd: random.Random) -> tuple[tuple[str, ...], bool]:
    """Two hosts' reports applied together (the writer coalesces what queued)."""
    first, _ = report_adds_a_marker(run, rnd)
    second, _ = report_flips_a_tap(run, rnd)
    return tuple(sorted(set(first + second))), False


def report_changes_bindings(run: Run, rnd: random.Random) -> tuple[tuple[str, ...], bool]:
    """A host's report loses the tap of a port bound to it and gains one named after another host's port."""
    host = rnd.choice(sorted(run.reports))
    report = copy.deepcopy(run.reports[host])
    taps = [i for i in report["interfaces"] if str(i.get("name")).startswith("tap")]
    if taps:
        report["interfaces"].remove(rnd.choice(taps))
    others = [p for p in run.cloud["ports"] if p.get("binding:host_id") not in (None, "", host)]
    if others:
        stray = copy.deepcopy(taps[0] if taps else report["interfaces"][0])
        stray["name"] = "tap" + rnd.choice(others)["id"][:11]
        report["interfaces"].append(stray)
    run.reports[host] = report
    store_report(host, report)
    return (host,), False


def port_moves_hosts(run: Run, rnd: random.Random) -> tuple[tuple[str, ...], bool]:
    """A VM port's binding moves to another host, and its tap with it: the cloud and both reports change."""
    cloud = copy.deepcopy(run.cloud)
    moved = [p for p in cloud["ports"] if p.get("binding:host_id") in run.reports and "compute" in p["device_owner"]]
    port = rnd.choice(moved)
    source = port["binding:host_id"]
    target = rnd.choice([h for h in sorted(run.reports) if h != source])
    name = "tap" + port["id"][:11]
    old, new = copy.deepcopy(run.reports[source]), copy.deepcopy(run.reports[target])
    taps = [i for i in old["interfaces"] if i.get("name") == name]
    old["interfaces"] = [i for i in old["interfaces"] if i.get("name") != name]
    new["interfaces"] += taps
    port["binding:host_id"] = target
    run.cloud, run.reports[source], run.reports[target] = cloud, old, new
    store_cloud(cloud)
    store_report(source, old)
    store_report(target, new)
    return (source, target), True


def report_drifts_then_a_marker(run: Run, rnd: random.Random) -> tuple[tuple[str, ...], bool]:
    """A host drifts (a qrouter- loses a DNAT rule, a device is left over from a deleted port), applied,
    then the same host posts a marker: its drift warnings are made again by the re-join."""
    host = rnd.choice(sorted(run.reports))
    report = copy.deepcopy(run.reports[host])
    for ns in report["namespaces"]:
        nat = (ns.get("iptables") or {}).get("nat")
        if nat and "-j DNAT" in nat:
            lines = nat.splitlines()
            drop = next(i for i, line in enumerate(lines) if "-j DNAT" in line)
            ns["iptables"]["nat"] = "\n".join(lines[:drop] + lines[drop + 1 :])
            break
    if report["interfaces"]:
        report["interfaces"].append({**copy.deepcopy(report["interfaces"][0]), "name": "tapdeadbeef-00"})
    run.reports[host] = report
    store_report(host, report)
    run.apply_and_check(hosts=(host,))
    report = with_marker(without_markers(report), rnd.randrange(10**6), timezone.now().isoformat())
    run.reports[host] = report
    store_report(host, report)
    return (host,), False


def cloud_renames_a_network(run: Run, rnd: random.Random) -> tuple[tuple[str, ...], bool]:
    """A cloud change that touches one network (its name: every port on it says it)."""
    cloud = copy.deepcopy(run.cloud)
    network = rnd.choice(cloud["networks"])
    network["name"] = f"renamed-{rnd.randrange(1000)}"
    run.cloud = cloud
    store_cloud(cloud)
    return (), True


CHANGES: list[Change] = [
    report_adds_a_marker,
    report_flips_a_tap,
    two_hosts_at_once,
    report_changes_bindings,
    port_moves_hosts,
    cloud_renames_a_network,
    port_bound_elsewhere,
    report_drifts_then_a_marker,
    fuzzed_report,
]


def lab_shaped(**shape: int) -> tuple[JsonDict, dict[str, JsonDict]]:
    cloud, reports = synthetic_cloud(**shape)
    add_gateways_and_fips(cloud, reports, fip_every=3)
    add_network_node_tunnels(reports)
    return cloud, reports


@pytest.mark.parametrize(
    ("seed", "lab_like", "shape"),
    [
        (11, False, {"hosts": 4, "ports": 16, "projects": 2, "network_nodes": 1, "tunnel_peers": 2}),
        (12, True, {"hosts": 5, "ports": 24, "projects": 2, "network_nodes": 2, "tunnel_peers": 3}),
        (13, True, {"hosts": 7, "ports": 40, "projects": 3, "network_nodes": 1, "tunnel_peers": 4}),
        (14, False, {"hosts": 9, "ports": 45, "projects": 4, "network_nodes": 2, "tunnel_peers": 6}),
    ],
)
def test_a_rejoin_of_a_few_hosts_is_a_cold_join_change_after_change(
    seed: int,
    lab_like: bool,
    shape: dict[str, int],
    published: Published,  # noqa: F811
) -> None:
    rnd = random.Random(seed)
    run = Run(*(lab_shaped(**shape) if lab_like else synthetic_cloud(**shape)), published)
    run.apply_and_check(everything=True)
    paths = {True: 0, False: 0}
    for step in range(20):
        change = CHANGES[step % len(CHANGES)] if step < len(CHANGES) else rnd.choice(CHANGES)
        hosts, cloud_changed = change(run, rnd)
        run.apply_and_check(hosts=hosts, cloud=cloud_changed)
        paths[run.writer.last.rejoined] += 1
        if change in (report_adds_a_marker, report_flips_a_tap, two_hosts_at_once, report_drifts_then_a_marker):
            assert run.writer.last.rejoined, change.__name__
        if change in (report_changes_bindings, port_moves_hosts, cloud_renames_a_network):
            assert not run.writer.last.rejoined, change.__name__
    # the refresh (every input by digest) re-joins the one host whose report changed
    hosts, _ = report_adds_a_marker(run, rnd)
    run.apply_and_check(everything=True)
    assert run.writer.last.rejoined and run.cache.rebuilt_hosts == list(hosts)
    assert paths[True] and paths[False]


def test_a_marker_report_rejoins_only_its_host_and_writes_only_its_part(
    published: Published,  # noqa: F811
) -> None:
    run = Run(*lab_shaped(hosts=6, ports=30, projects=2, network_nodes=2, tunnel_peers=3), published)
    run.apply_and_check(everything=True)
    host = sorted(run.reports)[-1]
    report = with_marker(run.reports[host], 7, timezone.now().isoformat())
    run.reports[host] = report
    store_report(host, report)
    run.apply_and_check(hosts=(host,))
    last = run.writer.last
    assert last.rejoined and last.changed and last.rows_read == 1
    assert run.cache.rebuilt_hosts == [host] and not run.cache.rebuilt_logical
    delta = published[-1][1]
    assert delta is not None
    assert [n["id"] for n in delta["added"]["nodes"]] == [g.iface_id(host, None, "mk000007")]
    assert {n["id"] for n in delta["changed"]["nodes"]} == {g.host_id(host)}  # its collected_at
    assert last.written.rows == 1  # the host's part alone


def test_rejoins_in_a_row_keep_the_cold_join_order(published: Published) -> None:  # noqa: F811
    """Re-joins change the graph in place, unordered; the writer's graph read afterwards is in order."""
    run = Run(*lab_shaped(hosts=5, ports=25, projects=2, network_nodes=1, tunnel_peers=3), published)
    run.apply_and_check(everything=True)
    rnd = random.Random(5)
    for _ in range(4):  # applied without reading the whole graph in between
        hosts, _ = report_adds_a_marker(run, rnd)
        run.writer.apply(run.cache, hosts=hosts)
        assert run.writer.last.rejoined
    hosts, _ = report_adds_a_marker(run, rnd)
    published.clear()
    run.previous = {"nodes": [], "edges": []}  # the deltas in between were not followed: check the graph alone
    run.writer.apply(run.cache, hosts=hosts)
    cold = run.expected()
    assert list(run.writer.nodes.values()) == cold["nodes"]
    assert [{"source": s, "target": t, "kind": k} for s, t, k in run.writer.edges] == cold["edges"]
    # and a whole join after them (the cloud changed) makes its delta from the graph in order
    hosts, cloud_changed = cloud_renames_a_network(run, rnd)
    run.previous = cold
    run.apply_and_check(hosts=hosts, cloud=cloud_changed)
    assert not run.writer.last.rejoined
