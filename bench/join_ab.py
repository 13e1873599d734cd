"""The join of two checkouts side by side: CPU A/B interleaved, and one join alone for callgrind.

    .venv/bin/python -m bench.join_ab save var/cloud1000.json [--hosts 1000] [--ports 20000]
    .venv/bin/python -m bench.join_ab ab var/cloud1000.json CHECKOUT_A CHECKOUT_B [--runs 8]
    valgrind --tool=callgrind --collect-atstart=no --toggle-collect=map_next \\
        .venv/bin/python -m bench.join_ab one var/cloud1000.json [cold|warm]

The cloud is saved once as JSON so that every checkout joins the same input. `ab` runs one process
per join, alternating the order of the checkouts each round (the machine's speed drifts), each with
that checkout's own code on its path; it prints min and median CPU seconds and their ratio. `one`
runs a single join inside ``map()`` so that callgrind's ``--toggle-collect=map_next`` counts the join
alone (instructions do not move with the machine's load); ``warm`` is a second join on a JoinCache
after one host's report lost an interface.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

import orjson

# Run inside each checkout (which need not have this file): one cold join, its CPU seconds printed.
ONE_COLD = """
import gc, sys, time
import orjson
from topology.join import join
data = orjson.loads(open(sys.argv[1], "rb").read())
gc.collect()
started = time.process_time()
graph = join(data["cloud"], data["reports"])
print(f"{time.process_time() - started:.4f}")
"""


def save(path: Path, hosts: int, ports: int) -> None:
    from bench.synthetic import synthetic_cloud

    cloud, reports = synthetic_cloud(hosts, ports)
    path.write_bytes(orjson.dumps({"cloud": cloud, "reports": reports}))
    print(f"saved {hosts} hosts / {ports} ports to {path} ({path.stat().st_size / 1e6:.1f} MB)")


def one_join_cpu(checkout: Path, cloud_file: Path) -> float:
    """One cold join in a fresh process (the checkout's virtualenv, else this one), its code first on the path."""
    own = checkout / ".venv" / "bin" / "python"
    python = own if own.exists() else Path(sys.executable)
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    out = subprocess.run(
        [str(python), "-c", ONE_COLD, str(cloud_file.resolve())],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip())


def ab(cloud_file: Path, first: Path, second: Path, runs: int) -> None:
    times: dict[Path, list[float]] = {first: [], second: []}
    for i in range(runs):
        order = [first, second] if i % 2 == 0 else [second, first]
        for checkout in order:
            times[checkout].append(one_join_cpu(checkout, cloud_file))
    for checkout, cpu in times.items():
        print(f"{checkout}: min {min(cpu):.3f} s, median {statistics.median(cpu):.3f} s over {runs} joins")
    ratio = statistics.median(times[second]) / statistics.median(times[first])
    print(f"median ratio second/first: {ratio:.3f}; load average {os.getloadavg()}")


def one(cloud_file: Path, what: str) -> None:
    from topology.join import JoinCache, join

    data = orjson.loads(cloud_file.read_bytes())
    cloud, reports = data["cloud"], data["reports"]
    if what == "cold":
        list(map(lambda _: join(cloud, reports), [0]))
        return
    cache = JoinCache()
    join(cloud, reports, cache=cache)
    reports[sorted(reports)[1]]["interfaces"].pop()
    list(map(lambda _: join(cloud, reports, cache=cache), [0]))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.join_ab", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p_save = commands.add_parser("save")
    p_save.add_argument("file", type=Path)
    p_save.add_argument("--hosts", type=int, default=1000)
    p_save.add_argument("--ports", type=int, default=20000)
    p_ab = commands.add_parser("ab")
    p_ab.add_argument("file", type=Path)
    p_ab.add_argument("first", type=Path)
    p_ab.add_argument("second", type=Path)
    p_ab.add_argument("--runs", type=int, default=8)
    p_one = commands.add_parser("one")
    p_one.add_argument("file", type=Path)
    p_one.add_argument("what", nargs="?", choices=("cold", "warm"), default="cold")
    args = parser.parse_args(argv)
    if args.command == "save":
        save(args.file, args.hosts, args.ports)
    elif args.command == "ab":
        ab(args.file, args.first.resolve(), args.second.resolve(), args.runs)
    else:
        one(args.file, args.what)


if __name__ == "__main__":
    main(sys.argv[1:])
