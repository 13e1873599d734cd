"""Benchmark of the graph writer's own memory: its RSS after a start from stored inputs and a stream of reports.

    .venv/bin/python bench/writer_memory.py --hosts 1000 10000 [--reports 5] [--breakdown] [--tree DIR ...]

For each size: a synthetic cloud (bench/synthetic.py, 20 ports per host) is built and stored into a
scratch SQLite file by a process of its own (``build``), which then exits. The writer then runs as it
runs in production, in processes of their own holding nothing but what it reads (``writer``):

- ``first start``: no graph stored yet; ``graphservice.apply(everything=True)`` reads the stored inputs,
  joins and writes every part;
- ``restart``: a new process over the parts just written (a writer restarted): it syncs from the stored
  graph and the inputs, joins and finds nothing changed; then ``--reports`` host reports are stored
  (one tap's state flipped, as bench/graphservice.py makes them) and applied one by one.

Each writer process prints its VmRSS after the start and after the stream, its VmHWM (peak), and the
per-report CPU. ``--breakdown``: the restarted writer also prints what it holds, in MB by structure
(a walk of every object each structure reaches, each object counted once, in the first structure that
reaches it). ``--tree``: run the writer processes from other checkouts too (a main copy), interleaved
size by size; the build always runs from this tree. One 10,000-host process at a time.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent
JsonDict = dict[str, Any]


def status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def setup(db: Path, redis_url: str) -> None:
    os.environ.update(
        {"DATABASE_URL": f"sqlite:///{db}", "REDIS_URL": redis_url, "DJANGO_SETTINGS_MODULE": "dashboard.settings"}
    )
    if "DJANGO_SECRET_KEY" not in os.environ and "DJANGO_SECRET_KEY_FILE" not in os.environ:
        key = subprocess.run([str(HERE / "bin" / "secret-key")], check=True, capture_output=True, text=True)
        os.environ["DJANGO_SECRET_KEY_FILE"] = key.stdout.strip()
    import django

    django.setup()


def build(db: Path, hosts: int, redis_url: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    setup(db, redis_url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from bench.synthetic import synthetic_cloud
    from topology import services

    cloud, reports = synthetic_cloud(hosts, hosts * 20, max(2, hosts // 2), max(1, min(3, hosts // 100)))
    services.store_snapshot(cloud, "synthetic")
    import orjson

    for host, report in reports.items():
        services.store_report(host, report, len(orjson.dumps(report)))
    print(f"  build: {hosts} hosts stored in {db} ({db.stat().st_size / 1e6:.0f} MB)", flush=True)


def flipped_tap(report: JsonDict, run: int) -> JsonDict:
    new = copy.deepcopy(report)
    new["collected_at"] = f"2026-12-02T10:{run // 60 % 60:02d}:{run % 60:02d}.5Z"
    taps = [i for i in new["interfaces"] if i["name"].startswith("tap")] or new["interfaces"]
    tap = taps[run % len(taps)]
    tap["state"] = "DOWN" if tap.get("state") == "UP" else "UP"
    return new


def stream(reports: int) -> list[float]:
    """Store ``reports`` hosts' next reports and apply each; the CPU seconds of each apply."""
    import orjson

    from topology import graphservice, services
    from topology.models import HostReport

    names = sorted(HostReport.objects.values_list("host", flat=True))
    cpu: list[float] = []
    for run in range(reports):
        host = names[(run * 37) % len(names)]
        report = flipped_tap(HostReport.objects.get(host=host).report, run)
        services.store_report(host, report, len(orjson.dumps(report)))
        del report
        started = time.process_time()
        graphservice.apply(hosts=[host])
        cpu.append(time.process_time() - started)
    return cpu


# --------------------------------------------------------------------------- what the writer holds


def children(obj: object) -> Iterable[object]:
    if isinstance(obj, dict):
        yield from obj.keys()
        yield from obj.values()
    elif isinstance(obj, (list, tuple, set, frozenset)):
        yield from obj
    else:
        if hasattr(obj, "__dict__"):
            yield obj.__dict__
        for cls in type(obj).__mro__:
            for slot in getattr(cls, "__slots__", ()):
                if hasattr(obj, slot):
                    yield getattr(obj, slot)


LEAVES = (str, bytes, bytearray, int, float, bool, type(None))


def deep_size(root: object, seen: set[int]) -> tuple[int, int]:
    """Bytes and objects reached from ``root`` not in ``seen`` (which they are then added to)."""
    total = count = 0
    todo = [root]
    while todo:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, type) or (callable(obj) and not hasattr(obj, "__dict__")):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        count += 1
        if not isinstance(obj, LEAVES):
            todo.extend(children(obj))
    return total, count


def breakdown() -> None:
    from topology import graphservice, services

    writer, cache = graphservice.WRITER, services.JOIN_CACHE
    held, inputs = writer.held, writer.inputs
    structures: list[tuple[str, object]] = [
        ("JoinCache.logical (LogicalPart)", cache.logical),
        ("JoinCache.hosts (parts: nodes, edges, index)", cache.hosts),
        ("JoinCache.described", cache.described),
        ("JoinCache.cross (CrossState)", cache.cross),
        ("JoinCache other", (cache.failed, cache.quarantined, cache.rebuilt_hosts)),
        ("held.nodes (beyond the parts')", held.nodes),
        ("held.edges", held.edges),
        ("held.joined_hosts, stale", (held.joined_hosts, held.stale)),
        ("held.layout", held.layout),
        ("Partition", writer.partition),
        ("inputs.cloud (the snapshot, parsed)", inputs.cloud),
        ("inputs.reports (slim or full)", inputs.reports),
        ("inputs other (digests, received)", (inputs.keys, inputs.stored, inputs.received, inputs.full)),
    ]
    seen: set[int] = set()
    print("  held, by structure (each object counted once, in the first structure reaching it):")
    grand = 0
    for name, obj in structures:
        size, count = deep_size(obj, seen)
        grand += size
        print(f"    {name:<48} {size / 1e6:9.1f} MB  {count:>11,} objects", flush=True)
    print(f"    {'total':<48} {grand / 1e6:9.1f} MB; full reports held: {len(inputs.full)}")


def writer(db: Path, reports: int, redis_url: str, show: bool) -> None:
    import gc

    setup(db, redis_url)
    from topology import graphservice
    from topology.models import GraphPart

    phase = "restart" if GraphPart.objects.exists() else "first start"
    started, started_cpu = time.perf_counter(), time.process_time()
    graphservice.apply(everything=True)
    wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    gc.collect()
    held_start, peak_start = status_mb("VmRSS"), status_mb("VmHWM")
    print(
        f"  {phase}: {wall:.1f} s wall / {cpu:.1f} s CPU; RSS held {held_start:.0f} MB, peak {peak_start:.0f} MB",
        flush=True,
    )
    if phase == "first start" or not reports:
        return
    cpu_each = stream(reports)
    gc.collect()
    print(
        f"  after {reports} reports: RSS held {status_mb('VmRSS'):.0f} MB, peak {status_mb('VmHWM'):.0f} MB;"
        f" per report CPU median {statistics.median(cpu_each):.3f} s (max {max(cpu_each):.3f} s)",
        flush=True,
    )
    if show:
        breakdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, nargs="+", default=[1000])
    parser.add_argument("--reports", type=int, default=5)
    parser.add_argument("--breakdown", action="store_true")
    parser.add_argument("--keep", action="store_true", help="reuse the scratch database of an earlier run")
    parser.add_argument("--tree", type=Path, action="append", default=[], help="another checkout to run too")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11"))
    parser.add_argument("--phase", choices=["build", "writer"], help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "build":
        return build(args.db, args.hosts[0], args.redis_url)
    if args.phase == "writer":
        return writer(args.db, args.reports, args.redis_url, args.breakdown)
    trees = [HERE, *[tree.resolve() for tree in args.tree]]
    common = ["--reports", str(args.reports), "--redis-url", args.redis_url]
    print(f"{os.cpu_count()} CPUs; load average {os.getloadavg()}", flush=True)
    for hosts in args.hosts:
        db = HERE / "var" / f"bench-writer-memory-{hosts}.sqlite3"
        run = [sys.executable, __file__, "--db", str(db), "--hosts", str(hosts), *common]
        if not (args.keep and db.exists()):
            subprocess.run([*run, "--phase", "build"], check=True, env={**os.environ, "PYTHONPATH": str(HERE)})
        for tree in trees:
            print(f"\n{hosts} hosts, writer from {tree} (load average {os.getloadavg()})", flush=True)
            env = {**os.environ, "PYTHONPATH": str(tree)}
            with_breakdown = ["--breakdown"] if args.breakdown else []
            reset_graph(db, tree, env)
            for _ in ("first start", "restart"):
                subprocess.run([*run, "--phase", "writer", *with_breakdown], check=True, cwd=tree, env=env)


def reset_graph(db: Path, tree: Path, env: dict[str, str]) -> None:
    """The stored graph and its history removed (each tree's first start writes them again)."""
    code = (
        "import sqlite3,sys;c=sqlite3.connect(sys.argv[1]);"
        "[c.execute(f'DELETE FROM {t}') for t in ('topology_graphpart','topology_graphpartscope',"
        "'topology_graphpartsummary','topology_graphrevision','topology_graphstate','topology_graphview',"
        "'topology_checkpointnodes')];c.commit()"
    )
    subprocess.run([sys.executable, "-c", code, str(db)], check=True, cwd=tree, env=env)


if __name__ == "__main__":
    main()
