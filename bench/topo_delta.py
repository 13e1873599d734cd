"""The explainer's indexed graph of a new revision: built afresh (main's way, then with the GC paused) or moved on.

    .venv/bin/python -m bench.topo_delta [--deltas 20] [--builds 3]

Reads the scratch database ``bench.what_changed --request`` leaves (var/bench-what-changed.sqlite3:
the synthetic 1,000-host cloud's graph by part and 24 h of history rows); run that first. Times,
interleaved in one process: the Topo built from the stored parts as main builds it (the parts
assembled and indexed, the cyclic GC running), the same with the GC paused
(topology/path_graph.py ``built``), and ``topology.path.topo_delta.moved`` applying one recorded
delta to the Topo held (the newest ``--deltas`` rows, each on its own), which is what a new revision
costs the path API now.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import django

REPO = Path(__file__).resolve().parent.parent
DB = REPO / "var" / "bench-what-changed.sqlite3"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
os.environ["DATABASE_URL"] = f"sqlite:///{DB}"
KEY = REPO / "var" / "secret-key"
if "DJANGO_SECRET_KEY" not in os.environ and "DJANGO_SECRET_KEY_FILE" not in os.environ and KEY.exists():
    os.environ["DJANGO_SECRET_KEY_FILE"] = str(KEY)
django.setup()

from topology import path_graph, services  # noqa: E402
from topology.graphservice.store import forget_assembled  # noqa: E402
from topology.history.delta import decode  # noqa: E402
from topology.history.models import GraphRevision  # noqa: E402
from topology.join.gcpause import gc_paused  # noqa: E402
from topology.path import Topo  # noqa: E402
from topology.path.topo_delta import moved  # noqa: E402


def as_before() -> Topo:
    state = services.graph_state()
    return Topo(state.graph, {})


def timed(make: Callable[[], object]) -> float:
    forget_assembled()
    started = time.perf_counter()
    make()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deltas", type=int, default=20)
    parser.add_argument("--builds", type=int, default=3)
    args = parser.parse_args()
    if not DB.exists():
        raise SystemExit(f"{DB} is missing: run .venv/bin/python -m bench.what_changed --request first")
    held = path_graph.built()
    rows = GraphRevision.objects.filter(reset=False).order_by("-revision").values_list("delta_gz", flat=True)
    rows = rows[: args.deltas]  # a reset row has no delta (the graph written whole)
    deltas = [decode(gz) for gz in rows]
    before: list[float] = []
    paused: list[float] = []
    moves: list[float] = []
    for n in range(args.builds):
        for kind in ("before", "paused") if n % 2 == 0 else ("paused", "before"):
            if kind == "before":
                before.append(timed(as_before))
            else:
                paused.append(timed(path_graph.built))
        for delta in deltas[n :: args.builds]:
            started = time.perf_counter()
            with gc_paused():
                moved(held.topo, [delta])  # type: ignore[list-item]
            moves.append(time.perf_counter() - started)
    print(f"graph: {len(held.topo.nodes)} nodes; {len(deltas)} deltas, {args.builds} builds of each kind, interleaved")
    print(f"built as before (GC running): median {statistics.median(before):.2f} s, max {max(before):.2f} s")
    print(f"built, GC paused: median {statistics.median(paused):.2f} s, max {max(paused):.2f} s")
    print(
        f"moved on by one delta: median {statistics.median(moves) * 1000:.0f} ms, max {max(moves) * 1000:.0f} ms "
        f"(load average {os.getloadavg()[0]:.1f})"
    )


if __name__ == "__main__":
    main()
