"""Benchmark of the join: a synthetic cloud of 1,000 hosts and 20,000 ports.

    .venv/bin/python -m bench.join [--hosts 1000] [--ports 20000] [--repeat 5]

Prints, against the targets <= 1 s and <= 500 MB:

- the cold join (no cache: what the first rebuild of a process costs), wall and
  CPU time, median and max of --repeat runs;
- the same with an empty JoinCache (the first rebuild of services.rebuild_graph);
- warm rebuilds with a JoinCache: after one host's report changed, and after a
  cloud refresh (a new snapshot with one port changed), given the inputs' digests
  as the dashboard stores them (made when an input is stored, outside the timing);
- cold joins as services.rebuild_graph makes them, back to back: each graph
  serialized (``to_dict``) and dropped, the GC left to itself (no collection
  between runs): what the join's objects cost the GC after the join returns;
- the peak memory of one cold join (tracemalloc).

Every other run starts with the previous graph freed and a full GC collection,
outside the timing. CPU time is what the join itself costs; wall time also counts
waiting for a busy core (the load average is printed beside it).
"""

from __future__ import annotations

import argparse
import copy
import gc
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from bench.synthetic import synthetic_cloud
from topology import graph as g
from topology.join import InputDigests, JoinCache, digest, join

JsonDict = dict[str, Any]
TARGET_S = 1.0
TARGET_MB = 500.0


def timed(runs: int, make: Callable[[int], Callable[[], g.Graph]]) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of ``runs`` calls; ``make(i)`` prepares run i (untimed) and returns it."""
    wall, cpu = [], []
    for i in range(runs):
        run = make(i)
        gc.collect()
        started, started_cpu = time.perf_counter(), time.process_time()
        graph = run()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        del graph
    return wall, cpu


def back_to_back(runs: int, run: Callable[[], g.Graph]) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of ``runs`` rebuilds one after the other, GC left to itself."""
    wall, cpu = [], []
    gc.collect()
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        served = run().to_dict()
        del served
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return wall, cpu


def line(what: str, wall: list[float], cpu: list[float]) -> str:
    wall_median, cpu_median = statistics.median(wall), statistics.median(cpu)
    return (
        f"{what:<34} wall median {wall_median:.3f} s max {max(wall):.3f} s | "
        f"CPU median {cpu_median:.3f} s max {max(cpu):.3f} s | "
        f"{wall_median / TARGET_S:.2f}x / {cpu_median / TARGET_S:.2f}x of the 1 s target (wall / CPU)"
    )


def changed_report(report: JsonDict, run: int) -> JsonDict:
    """The host's next report: newer, one flow fewer (as after a VM went away)."""
    new = copy.deepcopy(report)
    new["collected_at"] = f"2026-11-21T09:{run // 60 % 60:02d}:{run % 60:02d}.5Z"
    flows = new["ovs"]["flows"]["br-int"]
    if flows:
        flows.pop()
    return new


def refreshed_cloud(cloud: JsonDict, run: int) -> JsonDict:
    """The next cloud snapshot: a new object, one port's status changed."""
    new = dict(cloud)
    new["ports"] = list(cloud["ports"])
    port = new["ports"][run % len(new["ports"])] = dict(new["ports"][run % len(new["ports"])])
    port["status"] = "DOWN" if port.get("status") == "ACTIVE" else "ACTIVE"
    return new


def peak_mb(run: Callable[[], g.Graph]) -> float:
    gc.collect()
    tracemalloc.start()
    graph = run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del graph
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--ports", type=int, default=20000)
    parser.add_argument("--projects", type=int, default=500)
    parser.add_argument("--network-nodes", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cloud, reports = synthetic_cloud(args.hosts, args.ports, args.projects, args.network_nodes)
    graph = join(cloud, reports)
    print(f"synthetic cloud: {args.hosts} hosts, {args.ports} ports, {args.projects} projects")
    print(f"graph: {len(graph.nodes)} nodes, {len(graph.edges)} edges")
    del graph
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")

    print(line("cold join (no cache)", *timed(args.repeat, lambda i: lambda: join(cloud, reports))))
    stored = InputDigests(digest(cloud), {host: digest(report) or b"" for host, report in reports.items()})
    first = timed(args.repeat, lambda i: lambda: join(cloud, reports, JoinCache(), stored))
    print(line("cold join (empty JoinCache)", *first))
    print(line("cold join + to_dict, back to back", *back_to_back(args.repeat, lambda: join(cloud, reports))))

    cache = JoinCache()
    join(cloud, reports, cache=cache, digests=stored)
    hosts = sorted(reports)
    current = dict(reports)
    current_digests = dict(stored.reports)

    def one_host_changed(i: int) -> Callable[[], g.Graph]:
        host = hosts[(i * 37) % len(hosts)]
        current[host] = changed_report(reports[host], i)
        current_digests[host] = digest(current[host]) or b""  # as store_report makes it
        digests = InputDigests(stored.cloud, current_digests)
        return lambda: join(cloud, current, cache=cache, digests=digests)

    print(line("warm: one host's report changed", *timed(args.repeat, one_host_changed)))
    assert len(cache.rebuilt_hosts) == 1 and not cache.rebuilt_logical

    def cloud_refreshed(i: int) -> Callable[[], g.Graph]:
        new = refreshed_cloud(cloud, i)
        digests = InputDigests(digest(new), current_digests)  # as refresh_cloud makes it
        return lambda: join(new, current, cache=cache, digests=digests)

    print(line("warm: cloud refreshed", *timed(args.repeat, cloud_refreshed)))
    assert cache.rebuilt_logical and not cache.rebuilt_hosts

    cold_mb = peak_mb(lambda: join(cloud, reports))
    refreshed = refreshed_cloud(cloud, 0)
    refreshed_digests = InputDigests(digest(refreshed), current_digests)
    warm_mb = peak_mb(lambda: join(refreshed, current, cache=cache, digests=refreshed_digests))
    print(
        f"peak memory (tracemalloc): cold join {cold_mb:.0f} MB ({cold_mb / TARGET_MB:.2f}x of the 500 MB target); "
        f"warm rebuild {warm_mb:.0f} MB on top of the cache"
    )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
