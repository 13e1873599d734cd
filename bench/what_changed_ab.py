"""``bench.what_changed --request`` in two trees, interleaved: this one (B) and another (A, e.g. main's code).

    .venv/bin/python -m bench.what_changed_ab --before /tmp/main-copy [--rounds 3] [--repeat 3]

Each round runs, for each caller (admin, member of the path's VM's project), one fresh process per tree
(the order alternating round by round and caller by caller): the process builds its scratch database, asks
the cold request as that caller, then ``--repeat`` rounds of new revision / history dropped / warm for both
callers (bench/what_changed_request.py). This tree's bench files are copied into the other tree first (the
bench only calls what both have). Prints, per tree, the median and max of each figure, wall and CPU, the
processes' own CPU time (getrusage) and the load average.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent.parent
BENCH_FILES = ("bench/what_changed.py", "bench/what_changed_request.py")


def run(tree: Path, caller: str, repeat: int) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        path = Path(out.name)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    command = [str(tree / ".venv/bin/python"), "-m", "bench.what_changed", "--request", "--repeat", str(repeat)]
    subprocess.run([*command, "--caller", caller, "--json", str(path)], cwd=tree, check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result: dict[str, Any] = orjson.loads(path.read_bytes())
    path.unlink()
    result["process_cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result


def figures(results: list[dict[str, Any]]) -> dict[str, list[tuple[float, float]]]:
    out: dict[str, list[tuple[float, float]]] = {}
    for result in results:
        cold = result["cold"]
        out.setdefault(f"cold, {cold['caller']}", []).append((cold["wall"], cold["cpu"]))
        for kind, values in result["times"].items():
            out.setdefault(kind, []).extend((wall, cpu) for wall, cpu in values)
    return out


def cell(values: list[tuple[float, float]]) -> str:
    walls, cpus = [w for w, _ in values], [c for _, c in values]
    return f"{statistics.median(walls):.3f} ({max(walls):.3f}) / CPU {statistics.median(cpus):.3f} ({max(cpus):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="the other tree (its .venv and var/secret-key)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for name in BENCH_FILES:
        shutil.copy(HERE / name, args.before / name)
    trees = {"A (before)": args.before.resolve(), "B (this tree)": HERE}
    results: dict[str, list[dict[str, Any]]] = {side: [] for side in trees}
    n = 0
    for round_ in range(args.rounds):
        for caller in ("admin", "member"):
            order = list(trees) if n % 2 == 0 else list(reversed(trees))
            n += 1
            for side in order:
                result = run(trees[side], caller, args.repeat)
                results[side].append(result)
                print(
                    f"round {round_ + 1} {caller} {side}: cold {result['cold']['wall']:.2f} s, "
                    f"process CPU {result['process_cpu']:.1f} s, load {result['load']:.1f}",
                    flush=True,
                )
    table = {side: figures(values) for side, values in results.items()}
    kinds = sorted({k for t in table.values() for k in t})
    sides = list(trees)
    print("\n| wall median (max) / CPU median (max), s | " + " | ".join(sides) + " |")
    print("|---|" + "---|" * len(sides))
    for kind in kinds:
        print(f"| {kind} | " + " | ".join(cell(table[s].get(kind, [(0.0, 0.0)])) for s in sides) + " |")
    for side in sides:
        answers = results[side][-1]["answers"]
        for who, since in sorted(answers.items()):
            print(f"{side} {who}: {since['walks']} walks, {len(since['changes'])} changes; {since.get('headline')}")
    print(f"load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
