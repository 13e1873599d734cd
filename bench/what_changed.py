"""Benchmark of "what changed before it broke" (``GET /api/v1/path/?...&since=1``) over 24 h of churn.

    .venv/bin/python -m bench.what_changed [--hosts 1000] [--ports 20000] [--per-day 2400] [--repeat 5] [--request]

On the synthetic cloud (bench/synthetic.py with bench/path.py's gateways and floating
IPs, joined by the real join), a VM's path to the outside is chosen (verdict ok), and
24 hours of revisions are made at the delta level on the joined graph (not by the join:
2,400 joins of this cloud take hours), each stored as topology.history.record stores
it (orjson, gzip -6), after one checkpoint (the graph before the window):

- ``--per-day`` revisions of background churn on random hosts, bench/history.py's mix:
  50 % an interface flipping UP/DOWN, 20 % a port flipping ACTIVE/DOWN, 20 % a VM's
  port added or removed (a copy of a VM port with its edges), 10 % a netns added or
  removed (with its host's edge); never a node the path's walk reads;
- every 5 minutes, each of the path's hosts reports (its host node's collected_at);
- every hour, the path's VM port renamed (a cloud refresh: the walk reads the port, the
  verdict holds, so each is a past walk);
- 23 hours back, the path's router's gateway cleared by "job 17 by demo" (the break: its
  gateway_network_id, its gateway edge and its gateway port with the port's edges gone).

Timed, ``--repeat`` times: what the API does for ``since=1`` after reading the rows from
the database (not timed: a read of the 24 h of rows, ~1 MB): gunzip + orjson of every
delta, indexing them (topology.history.changes.History), and since_in (the walk back,
the past explanations, the changes listed). The current indexed graph (Topo) is
built once per revision by the API already and is not timed.

With ``--request``, the WHOLE request is timed instead (bench/what_changed_request.py): cold, at a
new revision, with the history dropped, and warm, for an admin and for a member of the path's VM's
project (``--caller`` asks the cold one), wall and CPU time; ``--json PATH`` writes the figures
(bench/what_changed_ab.py runs it in two trees, interleaved).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import django
import orjson

REPO = Path(__file__).resolve().parent.parent
DB = REPO / "var" / "bench-what-changed.sqlite3"  # --request only: the in-memory mode reads no rows
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
os.environ["DATABASE_URL"] = f"sqlite:///{DB}"
KEY = REPO / "var" / "secret-key"
if "DJANGO_SECRET_KEY" not in os.environ and "DJANGO_SECRET_KEY_FILE" not in os.environ and KEY.exists():
    os.environ["DJANGO_SECRET_KEY_FILE"] = str(REPO / "var" / "secret-key")
django.setup()  # topology.history.changes reads GraphRevision rows (in memory unless --request)

from bench.history_churn import Churn, Row, choose_path, make_day, path_ends  # noqa: E402
from bench.path import OUTSIDE, add_gateways_and_fips  # noqa: E402
from bench.synthetic import synthetic_cloud  # noqa: E402
from topology.history.change_text import headline  # noqa: E402
from topology.history.changes import History, since_in  # noqa: E402
from topology.history.delta import as_graph, decode  # noqa: E402
from topology.join import join  # noqa: E402
from topology.path import Topo  # noqa: E402

JsonDict = dict[str, Any]
TARGET_S = 1.0


def what_changed(topo: Topo, rows: list[Row], blob: bytes, src: str, now: datetime) -> tuple[float, JsonDict]:
    started = time.perf_counter()
    loaded = [(r, at, causes, decode(gz)) for r, at, causes, gz in rows]
    history = History(1, loaded, blob)  # type: ignore[arg-type]
    source, target, probe = path_ends(topo, src)
    since = since_in(topo, history, source, target, probe, rows[-1][0], now)
    return time.perf_counter() - started, since


def request(
    churn: Churn, reports: dict[str, JsonDict], blob: bytes, rows: list[Row], src: str, args: argparse.Namespace
) -> None:
    from bench import what_changed_request as wr

    result = wr.whole_request(churn, reports, blob, rows, src, OUTSIDE, args.repeat, args.caller, args.profile)
    if not result:
        return
    print(wr.answer_lines(result["answers"]))
    print(f"whole request GET /api/v1/path/?...&since=1, {args.repeat} rounds interleaved ({wr.stamp()}):")
    print(wr.summary(result))
    if args.json:
        answers = {who: body["since"] for who, body in result.pop("answers").items()}
        result["answers"] = answers
        result["load"] = os.getloadavg()[0]
        args.json.write_bytes(orjson.dumps(result, option=orjson.OPT_NON_STR_KEYS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--ports", type=int, default=20000)
    parser.add_argument("--projects", type=int, default=500)
    parser.add_argument("--network-nodes", type=int, default=3)
    parser.add_argument("--per-day", type=int, default=2400)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--request", action="store_true", help="time the whole API request (scratch SQLite)")
    parser.add_argument("--profile", action="store_true", help="with --request: the cold request under cProfile")
    parser.add_argument("--caller", choices=("admin", "member"), default="admin", help="with --request: who asks first")
    parser.add_argument("--json", type=Path, help="with --request: write the figures there")
    args = parser.parse_args()
    cloud, reports = synthetic_cloud(args.hosts, args.ports, args.projects, args.network_nodes)
    add_gateways_and_fips(cloud, reports)
    graph: JsonDict = join(cloud, reports).to_dict()
    src, read = choose_path(graph, reports)
    blob = orjson.dumps(graph)  # the checkpoint's bytes, gunzipped
    now = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
    churn = Churn(graph, read, args.seed)
    rows = make_day(churn, read, args.per_day, now)
    topo = Topo(as_graph(churn.nodes, churn.edges), reports)
    stored = sum(len(r[3]) for r in rows)
    print(
        f"cloud: {args.hosts} hosts, {args.ports} ports; graph {len(graph['nodes'])} nodes, {len(graph['edges'])} "
        f"edges; path {src} -> {OUTSIDE} reads {len(read)} nodes; {len(rows)} revisions in 24 h "
        f"({stored / 1e6:.2f} MB of deltas)"
    )
    if args.request:
        request(churn, reports, blob, rows, src, args)
        return
    times: list[float] = []
    since: JsonDict = {}
    for _ in range(args.repeat):
        seconds, since = what_changed(topo, rows, blob, src, now)
        times.append(seconds)
    found = since["verdict_since"] or {}
    print(
        f"since: verdict {since['verdict']}, since revision {found.get('revision')} ({found.get('at')}, was "
        f"{found.get('was')}); {since['walks']} past walks; {len(since['changes'])} changes listed"
    )
    print(f"first change named: {since['changes'][-1]['change'] if since['changes'] else None}")
    print(f"headline: {headline(since)}")
    median = statistics.median(times)
    print(
        f"what changed (decode + index + walk back), {args.repeat} runs: median {median:.3f} s, max {max(times):.3f} s "
        f"(target <= {TARGET_S:.0f} s: {median / TARGET_S:.2f}x; load average {os.getloadavg()[0]:.1f})"
    )


if __name__ == "__main__":
    main()
