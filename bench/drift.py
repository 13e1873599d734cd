"""What the drift pass adds to a join: mark_drift alone, timed on bench/path.py's synthetic cloud
(gateway ports, br-ex and floating IPs), printed; no assertion (figures, not a test).

    .venv/bin/python -m bench.drift --hosts 200 --ports 20000
"""

from __future__ import annotations

import argparse
import time

from bench.path import add_gateways_and_fips
from bench.synthetic import synthetic_cloud
from topology import drift
from topology.join import JoinCache, join


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--ports", type=int, default=20000)
    parser.add_argument("--projects", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cloud, reports = synthetic_cloud(args.hosts, args.ports, args.projects, max(1, args.hosts // 20))
    fips = add_gateways_and_fips(cloud, reports)
    cache = JoinCache()
    join(cloud, reports, cache)
    timings: list[float] = []
    marked = drift.mark_drift
    spent: list[float] = []

    def timed(*a: object) -> None:
        start = time.perf_counter()
        marked(*a)  # type: ignore[arg-type]
        spent.append(time.perf_counter() - start)

    drift.mark_drift = timed  # type: ignore[assignment]
    import topology.join.entry as join_module

    join_module.mark_drift = timed  # type: ignore[assignment]
    for _ in range(args.repeat):
        cache = JoinCache()
        start = time.perf_counter()
        join(cloud, reports, cache)
        timings.append(time.perf_counter() - start)
    print(f"{args.hosts} hosts, {len(cloud['ports'])} ports, {len(cloud['routers'])} routers, {fips} floating IPs")
    print(
        f"join (cold cache) median {sorted(timings)[len(timings) // 2] * 1000:.1f} ms; "
        f"mark_drift median {sorted(spent)[len(spent) // 2] * 1000:.1f} ms "
        f"({sorted(spent)[len(spent) // 2] / sorted(timings)[len(timings) // 2] * 100:.1f}% of the join)"
    )


if __name__ == "__main__":
    main()
