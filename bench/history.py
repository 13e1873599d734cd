"""Benchmark of the graph's history: storage per day, and rebuilding a revision 24 h back.

    .venv/bin/python -m bench.history [--hosts 1000] [--ports 20000] [--revisions 200] [--per-day 2400]

On the synthetic cloud (bench/synthetic.py), a sample of ``--revisions`` revisions of
churn is made by the real join and diff, and each is stored the way
topology.history.record stores it (the delta as orjson gzip -6; a checkpoint, the
whole graph as orjson gzip -1, every HISTORY_CHECKPOINT_EVERY revisions, 1,000 by default). The churn,
per 100 revisions (stated in docs/benchmarks.md): 50 interfaces going DOWN or UP on a
host (an agent's report), 20 ports going DOWN or ACTIVE in Neutron (a cloud refresh),
20 VMs booted or deleted (the port in Neutron and its tap/qbr/qvb/qvo in the host's
report, one revision each), 10 qdhcp- namespaces added or removed (a report).

Storage per day = ``--per-day`` revisions x the mean stored delta + the checkpoints a
day makes x the checkpoint's size. Rebuilding a revision 24 h back costs, at worst,
a checkpoint and HISTORY_CHECKPOINT_EVERY - 1 deltas after it (the checkpoint rule
also caps the deltas' bytes at a checkpoint's): that is what is timed (gunzip, orjson,
topology.history.replay.apply_delta), with the rows read from memory, not a database.
"""

from __future__ import annotations

import argparse
import copy
import gzip
import random
import statistics
import time
from typing import Any

import orjson

from bench.synthetic import iface, synthetic_cloud, uid
from topology import graph as g
from topology.history.delta import CHECKPOINT_GZIP_LEVEL, DELTA_GZIP_LEVEL, apply_delta, canonical, encode
from topology.history.visibility import ProjectView
from topology.join import InputDigests, JoinCache, digest, join
from topology.scope import visible_logical, visible_physical

JsonDict = dict[str, Any]
CHURN = (("iface", 50), ("port", 20), ("vm", 20), ("netns", 10))


def flip_iface(reports: dict[str, JsonDict], rng: random.Random) -> str:
    host = rng.choice(sorted(reports))
    candidates = [i for i in reports[host]["interfaces"] if i["name"] != "lo"] or reports[host]["interfaces"]
    chosen = rng.choice(candidates)
    chosen["state"] = "DOWN" if chosen["state"] == "UP" else "UP"
    return host


def flip_port(cloud: JsonDict, rng: random.Random) -> None:
    port = rng.choice(cloud["ports"])
    port["status"] = "DOWN" if port.get("status") == "ACTIVE" else "ACTIVE"


def toggle_vm(cloud: JsonDict, reports: dict[str, JsonDict], rng: random.Random, n: int) -> str:
    """Boot VM ``n`` (a port in Neutron, its devices on a host) or, if it exists, delete it."""
    port_id = uid("churn-port", n)
    host = sorted(reports)[n % len(reports)]
    id11 = port_id[:11]
    names = {f"qbr{id11}", f"tap{id11}", f"qvb{id11}", f"qvo{id11}"}
    report = reports[host]
    if any(p["id"] == port_id for p in cloud["ports"]):
        cloud["ports"] = [p for p in cloud["ports"] if p["id"] != port_id]
        report["interfaces"] = [i for i in report["interfaces"] if i["name"] not in names]
        return host
    template = rng.choice([p for p in cloud["ports"] if p.get("device_owner") == "compute:nova"])
    cloud["ports"].append({**copy.deepcopy(template), "id": port_id, "binding:host_id": host})
    report["interfaces"] += [
        iface(f"qbr{id11}", "bridge", n=n),
        iface(f"tap{id11}", "tun", master=f"qbr{id11}", n=n),
        iface(f"qvb{id11}", "veth", master=f"qbr{id11}", peer=f"qvo{id11}", n=n),
        iface(f"qvo{id11}", "veth", peer=f"qvb{id11}", n=n),
    ]
    return host


def toggle_netns(reports: dict[str, JsonDict], rng: random.Random, n: int) -> str:
    host = rng.choice(sorted(reports))
    name = f"qdhcp-{uid('churn-net', n % 50)}"
    namespaces = reports[host]["namespaces"]
    if any(ns["name"] == name for ns in namespaces):
        reports[host]["namespaces"] = [ns for ns in namespaces if ns["name"] != name]
    else:
        empty = {"nat": "", "filter": ""}
        namespaces.append({"name": name, "interfaces": [], "routes": [], "rules": [], "iptables": empty})
    return host


def churn_step(cloud: JsonDict, reports: dict[str, JsonDict], rng: random.Random, n: int) -> tuple[str, set[str]]:
    """One change of the churn mix: its kind and the hosts whose report it changed."""
    kind = rng.choices([k for k, _ in CHURN], weights=[w for _, w in CHURN])[0]
    if kind == "iface":
        return kind, {flip_iface(reports, rng)}
    if kind == "port":
        flip_port(cloud, rng)
        return kind, set()
    if kind == "vm":
        return kind, {toggle_vm(cloud, reports, rng, n)}
    return kind, {toggle_netns(reports, rng, n)}


def sample(hosts: int, ports: int, revisions: int, seed: int) -> tuple[list[bytes], bytes, float, JsonDict]:
    """(deltas as stored, the first graph as a checkpoint, seconds per revision made, the last graph)."""
    cloud, reports = synthetic_cloud(hosts, ports, max(2, hosts // 10), max(1, hosts // 50))
    cloud, reports = copy.deepcopy(cloud), copy.deepcopy(reports)
    cache = JoinCache()
    rng = random.Random(seed)

    def joined() -> JsonDict:
        digests = InputDigests(cloud=digest(cloud), reports={h: digest(r) or b"" for h, r in reports.items()})
        return join(cloud, reports, cache=cache, digests=digests).to_dict()

    graph = joined()
    checkpoint = gzip.compress(orjson.dumps(graph), compresslevel=CHECKPOINT_GZIP_LEVEL)
    deltas: list[bytes] = []
    start = time.perf_counter()
    n = 0
    while len(deltas) < revisions:
        churn_step(cloud, reports, rng, n)
        n += 1
        new = joined()
        delta = g.diff(graph, new)
        if not g.is_empty(delta):
            deltas.append(encode(delta, DELTA_GZIP_LEVEL))
            graph = new
    return deltas, checkpoint, (time.perf_counter() - start) / revisions, graph


def visible(nodes: dict[str, JsonDict], edges: dict[Any, JsonDict], project_id: str) -> set[str]:
    """What topology.history.listing computes for a member at each revision that moves their view."""
    logical = visible_logical(nodes.values(), project_id)
    return logical | visible_physical({"edges": list(edges.values())}, logical)


def replay_seconds(checkpoint: bytes, deltas: list[bytes]) -> tuple[float, float]:
    """(the checkpoint's gunzip + orjson + index, the deltas' gunzip + orjson + apply_delta) in seconds."""
    start = time.perf_counter()
    graph = orjson.loads(gzip.decompress(checkpoint))
    nodes = {n["id"]: n for n in graph["nodes"]}
    edges = {g.edge_key(e): e for e in graph["edges"]}
    loaded = time.perf_counter()
    for blob in deltas:
        apply_delta(nodes, edges, orjson.loads(gzip.decompress(blob)))
    return loaded - start, time.perf_counter() - loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--ports", type=int, default=20000)
    parser.add_argument("--revisions", type=int, default=200)
    parser.add_argument("--per-day", type=int, default=2400, help="revisions a day (100 an hour)")
    parser.add_argument("--checkpoint-every", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    deltas, checkpoint, per_revision, last = sample(args.hosts, args.ports, args.revisions, args.seed)
    mean_delta = statistics.fmean(len(d) for d in deltas)
    checkpoints_a_day = args.per_day / args.checkpoint_every
    per_day = args.per_day * mean_delta + checkpoints_a_day * len(checkpoint)
    raw = len(orjson.dumps(last))
    print(
        f"cloud: {args.hosts} hosts, {args.ports} ports; graph {len(last['nodes'])} nodes, {len(last['edges'])} edges"
    )
    print(f"graph orjson {raw / 1e6:.1f} MB; checkpoint (gzip -{CHECKPOINT_GZIP_LEVEL}) {len(checkpoint) / 1e6:.2f} MB")
    sizes = sorted(len(d) for d in deltas)
    print(
        f"deltas (gzip -{DELTA_GZIP_LEVEL}) over {len(deltas)} revisions: mean {mean_delta:.0f} B, "
        f"median {sizes[len(sizes) // 2]} B, max {sizes[-1]} B; join+diff {per_revision:.2f} s per revision"
    )
    print(
        f"storage per day at {args.per_day} revisions, a checkpoint every {args.checkpoint_every}: "
        f"{per_day / 1e6:.1f} MB ({args.per_day * mean_delta / 1e6:.2f} MB deltas + "
        f"{checkpoints_a_day:.0f} checkpoints x {len(checkpoint) / 1e6:.2f} MB); 14 days: {14 * per_day / 1e9:.2f} GB"
    )
    window = (deltas * (args.checkpoint_every // len(deltas) + 1))[: args.checkpoint_every - 1]
    runs = [replay_seconds(checkpoint, window) for _ in range(args.repeat)]
    times = [a + b for a, b in runs]
    print(
        f"rebuild a revision 24 h back (checkpoint + {len(window)} deltas): "
        f"median {statistics.median(times):.2f} s, max {max(times):.2f} s over {args.repeat} runs "
        f"(checkpoint median {statistics.median(a for a, _ in runs):.2f} s, "
        f"deltas median {statistics.median(b for _, b in runs):.2f} s)"
    )
    body = orjson.dumps(last)
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        gzip.compress(body, compresslevel=CHECKPOINT_GZIP_LEVEL)
        times.append(time.perf_counter() - start)
    print(
        f"a checkpoint's gzip -{CHECKPOINT_GZIP_LEVEL} (in the writer's transaction): "
        f"median {statistics.median(times):.2f} s"
    )
    nodes, edges = {n["id"]: n for n in last["nodes"]}, {g.edge_key(e): e for e in last["edges"]}
    project = next(n["project_id"] for n in last["nodes"] if n.get("project_id") and n["kind"] == "port")
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        visible(nodes, edges, project)
        times.append(time.perf_counter() - start)
    print(f"a member's view by topology.scope's full pass: median {statistics.median(times):.2f} s per revision")
    start = time.perf_counter()
    view = ProjectView(nodes, edges.values(), project)
    setup = time.perf_counter() - start
    times = []
    for blob in deltas:
        delta = orjson.loads(gzip.decompress(blob))
        start = time.perf_counter()
        view.update(nodes, delta)
        view.visible()
        times.append(time.perf_counter() - start)
    print(
        f"a member's view kept delta by delta (topology.history.visibility): {setup:.2f} s to index, then "
        f"median {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.0f} ms per revision"
    )
    # the replay is right: the checkpoint plus every delta of the sample is the last graph
    graph = orjson.loads(gzip.decompress(checkpoint))
    nodes, edges = {n["id"]: n for n in graph["nodes"]}, {g.edge_key(e): e for e in graph["edges"]}
    for blob in deltas:
        apply_delta(nodes, edges, orjson.loads(gzip.decompress(blob)))
    assert canonical({"nodes": list(nodes.values()), "edges": list(edges.values())}) == canonical(last)
    print("replayed sample == last graph: yes")


if __name__ == "__main__":
    main()
