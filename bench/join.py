"""Benchmark of the join: a synthetic cloud of 1,000 hosts and 20,000 ports.

    .venv/bin/python -m bench.join [--hosts 1000] [--ports 20000] [--repeat 5]

Prints the join time (median and max of --repeat runs) and the peak memory
of one join (tracemalloc), against the targets <= 1 s and <= 500 MB.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import tracemalloc

from bench.synthetic import synthetic_cloud
from topology.join import join


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--ports", type=int, default=20000)
    parser.add_argument("--projects", type=int, default=500)
    parser.add_argument("--network-nodes", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cloud, reports = synthetic_cloud(args.hosts, args.ports, args.projects, args.network_nodes)
    times, cpu = [], []
    for _ in range(args.repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        graph = join(cloud, reports)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    tracemalloc.start()
    join(cloud, reports)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    median = statistics.median(times)
    print(f"synthetic cloud: {args.hosts} hosts, {args.ports} ports, {args.projects} projects")
    print(f"graph: {len(graph.nodes)} nodes, {len(graph.edges)} edges")
    print(f"join time: median {median:.3f} s, max {max(times):.3f} s over {args.repeat} runs (target <= 1 s: "
          f"{median / 1.0:.2f}x of target)")
    # CPU time is what the join itself costs; wall time also counts waiting for a busy core.
    print(f"join CPU time: median {statistics.median(cpu):.3f} s (load average now {os.getloadavg()[0]:.1f})")
    print(f"join peak memory (tracemalloc): {peak / 2**20:.0f} MB (target <= 500 MB: {peak / 2**20 / 500:.2f}x)")


if __name__ == "__main__":
    main()
