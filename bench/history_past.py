"""Benchmark of the map at a past revision: GET /api/v1/topology/history/<R>/ on the 1,000-host cloud.

    .venv/bin/python -m bench.history_past [--hosts 1000] [--ports 20000] [--revisions 10] [--deltas 999] [--repeat 3]

A scratch SQLite file (var/bench-history-past.sqlite3, migrated) holds the history as
topology/history/record.py writes it: revision 1 a checkpoint of the synthetic cloud's graph
(bench/synthetic.py, orjson gzip -1), then ``--deltas`` revisions of churn (the deltas of
``--revisions`` revisions made by the real join and diff, bench.history.sample, stored gzip -6
and repeated to fill the rows), spread over 24 h. The revision asked for is the last one: the
worst case of a revision 24 h back, a checkpoint and 999 deltas after it (the default interval).

Timed through Django's test client and the real view (session cookie, scoping, serialization,
gzip accepted as a browser asks), for the admin's physical view and a member's logical view,
each round in one process and the order alternating: the first call (this process's caches
dropped: replay + scope + orjson + gzip), the same call again (cached), a compare with revision 1
right after (the map's flow: the shown revision's graph kept, revision 1 replayed), and the same
compare with every cache dropped (both replayed).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DB = REPO / "var" / "bench-history-past.sqlite3"


def setup_django() -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{DB}{suffix}").unlink(missing_ok=True)
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{DB}", "DJANGO_SETTINGS_MODULE": "dashboard.settings"}
    key = REPO / "var" / "secret-key"
    if "DJANGO_SECRET_KEY" not in env and "DJANGO_SECRET_KEY_FILE" not in env and key.exists():
        env["DJANGO_SECRET_KEY_FILE"] = str(key)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, check=True, env=env)
    os.environ.update(env)
    import django

    django.setup()


def store_history(checkpoint: bytes, deltas: list[bytes], rows: int) -> int:
    """Revision 1 the checkpoint, then ``rows`` deltas (cycled); the last revision."""
    from django.utils import timezone

    from topology.history.delta import DELTA_GZIP_LEVEL, encode
    from topology.history.models import GraphRevision

    start = timezone.now() - timedelta(hours=24)
    empty = encode(
        {"added": {"nodes": [], "edges": []}, "removed": {"nodes": [], "edges": []}, "changed": {"nodes": []}},
        DELTA_GZIP_LEVEL,
    )
    GraphRevision.objects.create(revision=1, at=start, delta_gz=empty, checkpoint_gz=checkpoint, size=len(checkpoint))
    step = timedelta(hours=24) / max(1, rows)
    GraphRevision.objects.bulk_create(
        GraphRevision(
            revision=2 + i,
            at=start + step * (i + 1),
            delta_gz=deltas[i % len(deltas)],
            size=len(deltas[i % len(deltas)]),
        )
        for i in range(rows)
    )
    return 1 + rows


def timed_get(client: Any, url: str) -> tuple[float, int]:
    start = time.perf_counter()
    response = client.get(url, HTTP_ACCEPT_ENCODING="gzip, deflate")  # as a browser asks
    elapsed = time.perf_counter() - start
    assert response.status_code == 200, (url, response.status_code, response.content[:200])
    return elapsed, len(response.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--ports", type=int, default=20000)
    parser.add_argument("--revisions", type=int, default=10, help="revisions of churn made by the join")
    parser.add_argument("--deltas", type=int, default=999, help="rows after the checkpoint")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    setup_django()
    from django.conf import settings
    from django.test import Client

    from bench.history import sample
    from tests.browser import caller, session_for
    from topology.history.past import forget

    made = time.perf_counter()
    deltas, checkpoint, _, last = sample(args.hosts, args.ports, args.revisions, args.seed)
    project = next(n["project_id"] for n in last["nodes"] if n.get("project_id") and n["kind"] == "port")
    print(
        f"cloud: {args.hosts} hosts; graph {len(last['nodes'])} nodes, {len(last['edges'])} edges; "
        f"checkpoint {len(checkpoint) / 1e6:.2f} MB; {len(deltas)} deltas made in {time.perf_counter() - made:.0f} s"
    )
    del last
    revision = store_history(checkpoint, deltas, args.deltas)
    print(f"history: revision 1 (checkpoint) + {args.deltas} deltas; asking for revision {revision}")
    who = {
        "admin physical": (caller("admin", "admin-project", admin=True), "physical"),
        "member logical": (caller("member", project), "logical"),
    }
    clients = {}
    for name, (person, _) in who.items():
        clients[name] = Client()
        clients[name].cookies[settings.SESSION_COOKIE_NAME] = session_for(person)
    kinds = ("first", "cached", "compare", "compare_cold")
    results: dict[str, dict[str, list[float]]] = {name: {kind: [] for kind in kinds} for name in who}
    sizes: dict[str, int] = {}
    for round_ in range(args.repeat):
        order = list(who) if round_ % 2 == 0 else list(who)[::-1]
        for name in order:
            view = who[name][1]
            url = f"/api/v1/topology/history/{revision}/?view={view}"
            forget()
            first, sizes[name] = timed_get(clients[name], url)
            cached, _ = timed_get(clients[name], url)
            compare, _ = timed_get(clients[name], url + "&compare=1")
            forget()
            cold, _ = timed_get(clients[name], url + "&compare=1")
            for kind, seconds in zip(kinds, (first, cached, compare, cold), strict=True):
                results[name][kind].append(seconds)
    for name, got in results.items():
        print(
            f"{name} ({sizes[name] / 1e6:.2f} MB gzip): first median {statistics.median(got['first']):.2f} s "
            f"(max {max(got['first']):.2f}), cached median {statistics.median(got['cached']) * 1000:.0f} ms, "
            f"compare with revision 1 median {statistics.median(got['compare']):.2f} s (the shown revision kept), "
            f"{statistics.median(got['compare_cold']):.2f} s (both replayed) over {args.repeat} rounds; "
            f"load average {os.getloadavg()[0]:.1f}"
        )


if __name__ == "__main__":
    main()
