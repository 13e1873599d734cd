"""The join with a JoinCache: a rebuild re-does only what changed, and its graph is a cold join's.

Equal means equal as the REST API serves it: the same nodes and edges in the same order.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bench.synthetic import synthetic_cloud, uid
from topology.join import InputDigests, JoinCache, digest, join
from topology.join import cache as join_module  # where JoinCache looks digest up

Inputs = tuple[dict[str, Any], dict[str, dict[str, Any]]]


@pytest.fixture
def inputs() -> Inputs:
    cloud, reports = synthetic_cloud(hosts=4, ports=12, projects=2, network_nodes=2, tunnel_peers=2)
    return copy.deepcopy(cloud), copy.deepcopy(reports)


def assert_same_as_cold(cache: JoinCache, cloud: dict[str, Any], reports: dict[str, dict[str, Any]]) -> None:
    warm = join(cloud, reports, cache=cache).to_dict()
    cold = join(cloud, reports).to_dict()
    assert [n["id"] for n in warm["nodes"]] == [n["id"] for n in cold["nodes"]]
    assert warm["nodes"] == cold["nodes"]
    assert warm["edges"] == cold["edges"]


def warmed(cloud: dict[str, Any], reports: dict[str, dict[str, Any]]) -> JoinCache:
    cache = JoinCache()
    join(cloud, reports, cache=cache)
    assert cache.rebuilt_logical
    assert cache.rebuilt_hosts == sorted(reports)
    return cache


def test_a_rebuild_after_one_host_changed_rejoins_that_host_only(inputs: Inputs) -> None:
    cloud, reports = inputs
    cache = warmed(cloud, reports)
    changed = copy.deepcopy(reports["compute0001"])
    vm = next(p for p in cloud["ports"] if p["id"] == uid("vmport", 1))
    id11 = vm["id"][:11]
    # the VM's tap and qbr went away, a qvo lost its port, a namespace appeared
    changed["interfaces"] = [i for i in changed["interfaces"] if i["name"] not in (f"tap{id11}", f"qbr{id11}")]
    changed["ovs"]["bridges"][0]["ports"][-1]["interfaces"][0]["external_ids"]["iface-id"] = uid("gone")
    changed["namespaces"].append({"name": f"qdhcp-{uid('net', 'unknown')}", "interfaces": []})
    reports = {**reports, "compute0001": changed}
    assert_same_as_cold(cache, cloud, reports)
    assert cache.rebuilt_hosts == ["compute0001"]
    assert not cache.rebuilt_logical


def test_a_rebuild_after_a_host_disappeared_rejoins_no_host(inputs: Inputs) -> None:
    cloud, reports = inputs
    cache = warmed(cloud, reports)
    reports = {host: report for host, report in reports.items() if host != "compute0000"}
    assert_same_as_cold(cache, cloud, reports)
    assert cache.rebuilt_hosts == []
    assert "compute0000" not in cache.hosts
    # ... and when it reports again, only it is joined afresh
    _, again = inputs
    assert_same_as_cold(cache, cloud, again)
    assert cache.rebuilt_hosts == ["compute0000"]


def test_a_rebuild_after_a_cloud_refresh_rejoins_the_logical_part_only(inputs: Inputs) -> None:
    cloud, reports = inputs
    cache = warmed(cloud, reports)
    refreshed = copy.deepcopy(cloud)
    refreshed["networks"][1]["status"] = "DOWN"
    refreshed["ports"] = [p for p in refreshed["ports"] if p["id"] != uid("vmport", 2)]
    refreshed["routers"].append({"id": uid("router", "new"), "name": "new", "project_id": "p"})
    refreshed["routers"][0]["name"] = "renamed"  # said in the describe of its qr- devices
    next(p for p in refreshed["ports"] if p["id"] == uid("vmport", 3))["binding:host_id"] = "ghost"
    assert_same_as_cold(cache, refreshed, reports)
    assert cache.rebuilt_logical
    assert cache.rebuilt_hosts == []


def test_the_cached_parts_are_never_changed_by_a_join(inputs: Inputs) -> None:
    """The cross joins write on nodes (describe, remote_host, warnings): on copies, never the cache's."""
    cloud, reports = inputs
    cache = warmed(cloud, reports)
    cold = join(cloud, reports).to_dict()
    stray = copy.deepcopy(cloud)
    stray["ports"] = stray["ports"][:3]  # most devices now bind nothing and warn
    for _ in range(2):
        join(stray, reports, cache=cache)
        join(cloud, {h: r for h, r in reports.items() if h != "compute0002"}, cache=cache)
    warm = join(cloud, reports, cache=cache).to_dict()
    assert warm == cold
    # nothing of the last warm join's graph leaks into the next one either
    graph = join(cloud, reports, cache=cache)
    graph.warn(next(iter(graph.nodes)), "changed by the caller")
    assert join(cloud, reports, cache=cache).to_dict() == cold


@pytest.mark.parametrize("unbound_first", [True, False])
def test_a_device_two_ports_bind_is_described_by_the_later_port_with_or_without_a_cache(
    inputs: Inputs, unbound_first: bool
) -> None:
    """Without a cache ports are matched host by host: the later port (in the snapshot's order) still wins."""
    cloud, reports = inputs
    vm = next(p for p in cloud["ports"] if p["id"] == uid("vmport", 1))
    # an unbound port (looked for on every host) whose id shares the VM port's first 11 characters
    twin = {**vm, "id": vm["id"][:11] + uid("twin")[11:], "binding:host_id": "", "fixed_ips": [], "name": "twin"}
    position = cloud["ports"].index(vm) + (0 if unbound_first else 1)
    cloud["ports"].insert(position, twin)
    assert_same_as_cold(JoinCache(), cloud, reports)
    tap = join(cloud, reports).nodes[f"iface:{vm['binding:host_id']}:-:tap{vm['id'][:11]}"]
    assert tap["attrs"]["port_id"] == (vm["id"] if unbound_first else twin["id"])


def test_a_rebuild_given_the_stored_digests_hashes_only_the_inputs_without_one(
    inputs: Inputs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dashboard stores each input's digest when it stores the input: a rebuild uses those
    (a spy counts the digests the join computes itself), and its graph is a cold join's."""
    cloud, reports = inputs
    stored = InputDigests(cloud=digest(cloud), reports={h: d for h, r in reports.items() if (d := digest(r))})
    cache = JoinCache()
    computed: list[object] = []

    def counting(value: object) -> bytes | None:
        computed.append(value)
        return digest(value)

    monkeypatch.setattr(join_module, "digest", counting)
    join(cloud, reports, cache=cache, digests=stored)
    assert computed == []
    assert cache.rebuilt_hosts == sorted(reports)
    # one host's report changed, and with it its stored digest: that host alone is made again
    changed = sorted(reports)[1]
    reports[changed]["ovs"]["flows"]["br-int"].pop()
    stored = InputDigests(cloud=stored.cloud, reports={**stored.reports, changed: digest(reports[changed]) or b""})
    join(cloud, reports, cache=cache, digests=stored)
    assert computed == [] and cache.rebuilt_hosts == [changed] and not cache.rebuilt_logical
    # a host stored without a digest (a row older than digests) has its report hashed by the join
    unknown = InputDigests(cloud=stored.cloud, reports={h: d for h, d in stored.reports.items() if h != changed})
    warm = join(cloud, reports, cache=cache, digests=unknown).to_dict()
    assert computed == [reports[changed]] and cache.rebuilt_hosts == []
    assert warm == join(cloud, reports).to_dict()
