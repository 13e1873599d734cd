"""The collapsed physical view at scale: its API answer (first, cached, after one host's part is rewritten)
and its first render in headless Chromium (issue 13: <= 1 s answer, <= 2 s render at 10,000 hosts).

    .venv/bin/python -m bench.map_collapsed [--hosts 10000] [--ports 200000] [--keep]

Builds the synthetic cloud (bench/synthetic.py), joins it and stores it by part (GraphState.graph, as
publish_graph does) in its own SQLite file (var/bench-collapsed.sqlite3; --keep reuses one already built),
starts daphne on it (a fresh process: its caches empty), then, over HTTP as an admin:
the collapsed view twice (first: every part read; cached: the same revision), one host's part
rewritten at the next revision (what the writer does for a report) and the view again, a search by IP;
then the map page in Chromium, navigation to the first drawn frame.

``--ab N``: the first answer of a fresh process, A/B interleaved in one run, N rounds: A reads each part's
stored summary (GraphPartSummary, topology/graphservice/summaries.py); B is main's way, every part's body
parsed and summarized (a copy of the database with the summaries emptied, what a reader falls back to).
Each round starts a fresh daphne on each copy (the order alternating) and asks the view twice (first, warm).
``--before DIR``: B is instead the code of the checkout DIR (main, say: daphne started there) on a copy of the
database as that code's migrations leave it (``--before-migration``: this branch's later ones reversed).
``--member``: each round also asks a member's view (of the synthetic cloud's project ``--member-project``),
each in a fresh daphne of its own.

    .venv/bin/python -m bench.map_collapsed --keep --ab 3 --member --before /work/main --before-migration 0008
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DB = REPO / "var" / "bench-collapsed.sqlite3"
os.environ["DATABASE_URL"] = f"sqlite:///{DB}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's loop shares this thread with the ORM
os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")
# one key for both sides of an A/B (a session is checked against the key that made it)
os.environ.setdefault("DJANGO_SECRET_KEY_FILE", str(REPO / "var" / "secret-key"))


def setup_django(keep: bool) -> None:
    if not keep:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{DB}{suffix}").unlink(missing_ok=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, check=True, env=os.environ)
    import django

    django.setup()


def build(hosts: int, ports: int, projects: int) -> tuple[int, int, float]:
    from django.utils import timezone

    from bench.synthetic import synthetic_cloud
    from topology.join import join
    from topology.models import GraphState

    started = time.perf_counter()
    graph = join(*synthetic_cloud(hosts, ports, projects, 3)).to_dict()
    sizes = len(graph["nodes"]), len(graph["edges"])
    state, _ = GraphState.objects.get_or_create(id=1)
    state.revision += 1
    state.generated_at = timezone.now()
    state.graph = graph
    state.save()
    del graph, state
    return sizes[0], sizes[1], time.perf_counter() - started


def get(url: str, cookie: str) -> tuple[float, int, Any]:
    import orjson

    request = urllib.request.Request(url, headers={"Cookie": cookie, "Accept-Encoding": "gzip"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as response:
        raw = response.read()
        seconds = time.perf_counter() - started
        body = gzip.decompress(raw) if response.headers.get("Content-Encoding") == "gzip" else raw
    return seconds, len(raw), orjson.loads(body)


def rewrite_one_part(host: str) -> None:
    """What the writer does for one host's report: that part rewritten at the next revision."""
    import orjson
    from django.db.models import F

    from topology.graphservice.parts import Members
    from topology.graphservice.summaries import part_summary
    from topology.models import GraphPart, GraphPartSummary, GraphState

    part = GraphPart.objects.get(key=f"host:{host}")
    data = orjson.loads(bytes(part.body))
    data["nodes"] = [n for n in data["nodes"] if not n["id"].endswith(":lo")]
    data["edges"] = [e for e in data["edges"] if not (e[0].endswith(":lo") or e[1].endswith(":lo"))]
    GraphState.objects.filter(id=1).update(revision=F("revision") + 1)
    revision = GraphState.objects.get(id=1).revision
    nodes = {n["id"]: n for n in data["nodes"]}
    members = Members(dict.fromkeys(nodes), dict.fromkeys(tuple(e) for e in data["edges"]))
    GraphPart.objects.filter(key=part.key).update(revision=revision, body=orjson.dumps(data))
    GraphPartSummary.objects.filter(key=part.key).update(body=part_summary(members, nodes, revision))


def main_way_copy() -> Path:
    """A copy of the database whose parts carry no summary (main's way: a reader parses every body)."""
    import sqlite3

    from django.db import connection

    connection.close()
    copy = DB.with_name("bench-collapsed-main.sqlite3")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)
    source = sqlite3.connect(DB)
    target = sqlite3.connect(copy)
    source.backup(target)
    source.close()
    target.execute("DELETE FROM topology_graphpartsummary")
    target.execute("DELETE FROM topology_graphpartscope")
    target.commit()
    target.close()
    return copy


def before_copy(checkout: Path, migration: str) -> Path:
    """A copy of the database as the code of ``checkout`` has it: this branch's later migrations reversed."""
    import sqlite3

    from django.db import connection

    connection.close()
    copy = DB.with_name("bench-collapsed-before.sqlite3")
    if not copy.exists():
        source, target = sqlite3.connect(DB), sqlite3.connect(copy)
        source.backup(target)
        source.close()
        target.close()
    target = sqlite3.connect(copy)  # this run's sessions and their users, made after the copy was
    target.execute("ATTACH DATABASE ? AS made", (str(DB),))
    for table in ("auth_user", "django_session"):
        target.execute(f"INSERT OR REPLACE INTO main.{table} SELECT * FROM made.{table}")
    target.commit()
    target.close()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{copy}"}
    command = [sys.executable, "manage.py", "migrate", "-v0", "topology", migration]
    subprocess.run(command, cwd=REPO, check=True, env=env)
    print(f"B: the code of {checkout} on {copy.name} (topology migrated back to {migration})")
    return copy


@contextmanager
def fresh_daphne(checkout: Path, db: Path) -> Iterator[str]:
    """daphne started in ``checkout`` (its code) on ``db``, as tests/browser.py's daphne_server starts it."""
    from tests.browser import wait_http
    from tests.conftest import free_port

    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "DJANGO_SETTINGS_MODULE": "dashboard.settings"}
    with open(REPO / "var" / "bench-collapsed-daphne.log", "ab") as log:
        command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "dashboard.asgi:application"]
        proc = subprocess.Popen(command, cwd=checkout, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/login/", proc, timeout=120)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def ab_rounds(rounds: int, cookies: dict[str, str], before: Path | None, migration: str) -> None:
    if before is None:
        ways = {"A summaries": (REPO, DB), "B main (bodies)": (REPO, main_way_copy())}
    else:
        ways = {"A this branch": (REPO, DB), f"B {before}": (before, before_copy(before, migration))}
    seen: dict[tuple[str, str], list[tuple[float, float]]] = {(w, who): [] for who in cookies for w in ways}
    for round_no in range(rounds):
        order = list(ways) if round_no % 2 == 0 else list(reversed(ways))
        for who, cookie in cookies.items():
            for name in order:
                with fresh_daphne(*ways[name]) as url:
                    api = url + "/api/v1/topology/?view=physical&collapsed=1"
                    first, _, body = get(api, cookie)
                    warm, _, _ = get(api, cookie)
                seen[(name, who)].append((first, warm))
                print(
                    f"round {round_no + 1} {who} {name}: first {first:.2f} s, warm {warm * 1000:.0f} ms, "
                    f"{len(body['nodes'])} hosts",
                    flush=True,
                )
    for (name, who), runs in seen.items():
        print(
            f"{who} {name}: first answer median {statistics.median(r[0] for r in runs):.2f} s "
            f"(min {min(r[0] for r in runs):.2f}, max {max(r[0] for r in runs):.2f}), "
            f"warm median {statistics.median(r[1] for r in runs) * 1000:.0f} ms over {len(runs)} rounds"
        )
    for who in cookies:
        a, b = (statistics.median(r[0] for r in seen[(name, who)]) for name in ways)
        print(f"{who}: first answer B/A: {b / a:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=10000)
    parser.add_argument("--ports", type=int, default=200000)
    parser.add_argument("--projects", type=int, default=500)
    parser.add_argument("--renders", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="reuse the database built by an earlier run")
    parser.add_argument("--ab", type=int, default=0, help="rounds of the A/B first answer (summaries vs main's way)")
    parser.add_argument("--before", type=Path, help="with --ab: B is this checkout's code (e.g. /work/main)")
    parser.add_argument("--before-migration", default="0008", help="topology migration B's code stops at")
    parser.add_argument("--member", action="store_true", help="with --ab: a member's view too")
    parser.add_argument("--member-project", type=int, default=7, help="the synthetic project the member is of")
    args = parser.parse_args()
    setup_django(args.keep)
    from django.conf import settings

    from bench.map_browser import admin_session
    from tests.browser import chromium, daphne_server, session_cookie
    from topology.models import GraphPart

    if not (args.keep and GraphPart.objects.exists()):
        nodes, edges, seconds = build(args.hosts, args.ports, args.projects)
        print(
            f"synthetic cloud: {args.hosts} hosts, {args.ports} ports: {nodes} nodes, {edges} edges ({seconds:.0f} s)"
        )
    session = admin_session()
    cookie = f"{settings.SESSION_COOKIE_NAME}={session}"
    if args.ab:
        cookies = {"admin": cookie}
        if args.member:
            from bench.synthetic import uid
            from tests.browser import caller, session_for

            project = uid("project", args.member_project).replace("-", "")
            member = session_for(caller("member", project))
            cookies["member"] = f"{settings.SESSION_COOKIE_NAME}={member}"
        ab_rounds(args.ab, cookies, args.before, args.before_migration)
        return
    with daphne_server(REPO / "var" / "bench-collapsed-daphne.log") as url:
        api = url + "/api/v1/topology/?view=physical&collapsed=1"
        first, size, body = get(api, cookie)
        cached, _, _ = get(api, cookie)
        hosts = len(body["nodes"])
        print(f"collapsed view: {hosts} hosts, {len(body['edges'])} host links, {size / 1e6:.2f} MB gzipped")
        print(f"API answer: first {first:.2f} s (every part's summary read), cached {cached * 1000:.0f} ms")
        rewrite_one_part(body["nodes"][hosts // 2]["label"])
        changed, _, after = get(api, cookie)
        print(f"after one host's part rewritten (revision {after['revision']}): {changed:.2f} s")
        p = args.projects - 1  # bench/synthetic.py's address of a port of the last project
        ip = f"10.{p >> 8 & 255}.{p & 255}.10"
        search_first, _, found = get(url + f"/api/v1/topology/search/?q={ip}", cookie)
        search_again, _, _ = get(url + f"/api/v1/topology/search/?q={ip}", cookie)
        print(f"search {ip}: {len(found['results'])} results, first {search_first:.2f} s, again {search_again:.2f} s")
        runs = []
        with chromium() as browser:
            for _ in range(args.renders):
                context = browser.new_context(viewport={"width": 1600, "height": 1000})
                context.add_cookies([session_cookie(session, url)])
                page = context.new_page()
                page.goto(url + "/map/#view=physical")
                page.wait_for_function("window.neutronMap && window.neutronMap.stats.draws > 0", timeout=300000)
                runs.append(
                    page.evaluate("""() => {
                    const api = performance.getEntriesByType('resource').find((e) => e.name.includes('collapsed=1'));
                    return {first: window.neutronMap.stats.firstDrawnAt, draw: window.neutronMap.stats.lastDrawMs,
                            api: api ? api.responseEnd - api.startTime : null,
                            shown: window.neutronMap.visibleIds().length, renderer: window.neutronMap.renderer,
                            collapsed: window.neutronMap.collapsed() !== null};
                }""")
                )
                context.close()
    last = runs[-1]
    print(f"map: {last['shown']} hosts drawn ({last['renderer']}, collapsed {last['collapsed']})")
    print(
        f"navigation -> first frame: median {statistics.median(r['first'] for r in runs):.0f} ms "
        f"(API answer {statistics.median(r['api'] for r in runs):.0f} ms, model+layout+draw "
        f"{statistics.median(r['draw'] for r in runs):.0f} ms) over {len(runs)} runs (target <= 2000 ms)"
    )


if __name__ == "__main__":
    main()
