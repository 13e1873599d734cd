"""A checkpoint's nodes by bucket (topology/history/checkpoint_nodes.py): what it costs the writer, what it
weighs, and a node's look-up through it against the checkpoint's bytes.

    .venv/bin/python -m bench.checkpoint_nodes [--hosts 1000] [--ports 20000] [--repeat 3] [--lookups 40]

On the synthetic cloud of bench/what_changed.py (joined by the real join), in a scratch SQLite file
(var/bench-checkpoint-nodes.sqlite3, migrated), interleaved ``--repeat`` times in one process: the
checkpoint as record_revision writes it (orjson + gzip -1 of the whole graph, the row stored) and the
buckets written beside it (checkpoint_nodes.write); then, per round, ``--lookups`` random node ids looked
up in a fresh window.Checkpoint through the buckets and through the bytes (the row read, gunzipped,
searched). Wall and CPU time.
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import django

REPO = Path(__file__).resolve().parent.parent
DB = REPO / "var" / "bench-checkpoint-nodes.sqlite3"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
os.environ["DATABASE_URL"] = f"sqlite:///{DB}"
KEY = REPO / "var" / "secret-key"
if "DJANGO_SECRET_KEY" not in os.environ and "DJANGO_SECRET_KEY_FILE" not in os.environ and KEY.exists():
    os.environ["DJANGO_SECRET_KEY_FILE"] = str(KEY)
django.setup()

import orjson  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.path import add_gateways_and_fips  # noqa: E402
from bench.synthetic import synthetic_cloud  # noqa: E402
from topology.history import checkpoint_nodes  # noqa: E402
from topology.history.delta import CHECKPOINT_GZIP_LEVEL  # noqa: E402
from topology.history.models import CheckpointNodes, GraphRevision  # noqa: E402
from topology.history.window import Checkpoint  # noqa: E402
from topology.join import join  # noqa: E402

Timed = tuple[float, float]


def timed(work: Callable[[], object]) -> Timed:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def looking_up(held: Checkpoint, wanted: list[str]) -> Callable[[], object]:
    return lambda: [held.node(node_id) for node_id in wanted]


def show(name: str, values: list[Timed]) -> None:
    walls, cpus = [w for w, _ in values], [c for _, c in values]
    print(
        f"  {name}: wall median {statistics.median(walls):.3f} s (max {max(walls):.3f}), "
        f"CPU median {statistics.median(cpus):.3f} s (max {max(cpus):.3f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--ports", type=int, default=20000)
    parser.add_argument("--projects", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--lookups", type=int, default=40)
    args = parser.parse_args()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{DB}{suffix}").unlink(missing_ok=True)
    call_command("migrate", verbosity=0)
    cloud, reports = synthetic_cloud(args.hosts, args.ports, args.projects, 3)
    add_gateways_and_fips(cloud, reports)
    graph = join(cloud, reports).to_dict()
    ids = [n["id"] for n in graph["nodes"]]
    rng = random.Random(18)
    times: dict[str, list[Timed]] = {}
    at = timezone.now()
    for round_ in range(args.repeat):
        revision = round_ + 1

        def checkpoint(revision: int = revision) -> None:
            blob = gzip.compress(orjson.dumps(graph), compresslevel=CHECKPOINT_GZIP_LEVEL)
            with transaction.atomic():
                GraphRevision.objects.create(revision=revision, at=at, delta_gz=b"", checkpoint_gz=blob, size=len(blob))

        def buckets(revision: int = revision) -> None:
            with transaction.atomic():
                checkpoint_nodes.write(revision, at, graph["nodes"])

        for name, work in [("checkpoint (orjson + gzip -1, stored)", checkpoint), ("its buckets", buckets)][
            :: 1 if round_ % 2 == 0 else -1
        ]:
            times.setdefault(name, []).append(timed(work))
        wanted = rng.sample(ids, args.lookups)
        ways = [("through the buckets", Checkpoint(revision, at=at)), ("through the bytes", Checkpoint(revision))]
        for name, held in ways[:: 1 if round_ % 2 == 0 else -1]:
            times.setdefault(f"{args.lookups} look-ups {name}", []).append(timed(looking_up(held, wanted)))
        assert all(ways[0][1].node(i) == ways[1][1].node(i) for i in wanted)
    checkpoint_size = len(GraphRevision.objects.values_list("checkpoint_gz", flat=True).first() or b"")
    sizes = [len(b) for b in CheckpointNodes.objects.filter(revision=1).values_list("nodes_gz", flat=True)]
    print(
        f"graph {len(graph['nodes'])} nodes, {len(graph['edges'])} edges; checkpoint {checkpoint_size / 1e6:.2f} MB "
        f"gzipped; its {len(sizes)} buckets {sum(sizes) / 1e6:.2f} MB (median {statistics.median(sizes) / 1e3:.1f} kB)"
    )
    print(f"{args.repeat} rounds interleaved in one process:")
    for name, values in times.items():
        show(name, values)
    print(f"  load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
