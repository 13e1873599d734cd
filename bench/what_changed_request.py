"""``bench.what_changed --request``: the WHOLE ``GET /api/v1/path/?...&since=1`` timed through Django's test client.

A scratch SQLite file (var/bench-what-changed.sqlite3, migrated) holds the current graph (GraphState, by
part), the hosts' reports and the history rows (revision 1 the checkpoint, then the day's deltas), as the
service leaves them. Asked by a logged-in admin and by a member of the path's VM's project (the caller
``--caller`` names asks the process's first, "cold" request). Then, round by round in a rotating order (one
process), a new revision is committed (one background change: the parts, the state, its history row; not
timed) and one caller asks ("new revision": the explainer's graph moved on by the delta, and for a member
its project's view of that revision), or the history's per-process keep is dropped ("history dropped": the
rows read and decoded again, the checkpoint searched again; the graph kept); "warm": the same caller asks
again right after. Each figure is wall and CPU time (``time.process_time``) of the request.
"""

from __future__ import annotations

import gzip
import os
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from bench.history_churn import Churn, Row, empty_delta
from topology.history.delta import DELTA_GZIP_LEVEL, as_graph, encode

JsonDict = dict[str, Any]
Timing = tuple[float, float]  # wall, CPU (s)
CALLERS = ("admin", "member")


def store(db: Path, graph: JsonDict, reports: dict[str, JsonDict], checkpoint: bytes, rows: list[Row]) -> None:
    """The scratch database as the service leaves it: the graph now, the reports, the history rows."""
    from django.core.management import call_command
    from django.utils import timezone

    from topology.history.models import GraphRevision
    from topology.models import GRAPH_STATE_ID, GraphState, HostReport

    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    call_command("migrate", verbosity=0)
    now = timezone.now()
    state = GraphState(id=GRAPH_STATE_ID, revision=rows[-1][0], generated_at=rows[-1][1])  # as the writer records it
    state.graph = graph
    state.save()
    HostReport.objects.bulk_create(
        HostReport(host=host, collected_at=now, received_at=now, size=len(orjson.dumps(report)), report=report)
        for host, report in reports.items()
    )
    empty = encode(empty_delta(), DELTA_GZIP_LEVEL)
    cp = gzip.compress(checkpoint, compresslevel=1)
    start = rows[0][1] - timedelta(minutes=1)
    GraphRevision.objects.create(revision=1, at=start, delta_gz=empty, checkpoint_gz=cp, size=len(cp))
    store_checkpoint_nodes(1, start, checkpoint)
    GraphRevision.objects.bulk_create(
        (GraphRevision(revision=r, at=at, causes=causes, delta_gz=gz, size=len(gz)) for r, at, causes, gz in rows),
        batch_size=500,
    )


def store_checkpoint_nodes(revision: int, at: datetime, checkpoint: bytes) -> None:
    """What record_revision writes beside a checkpoint, where this tree has it (main's has not)."""
    try:
        from topology.history import checkpoint_nodes  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return
    checkpoint_nodes.write(revision, at, orjson.loads(checkpoint)["nodes"])


def new_revision(churn: Churn) -> None:
    """One more revision as the graph service commits it: the graph's parts, the state, its history row."""
    from django.utils import timezone

    from topology.graphservice.store import replace_graph
    from topology.history.models import GraphRevision
    from topology.models import GraphState

    delta = churn.background()
    state = GraphState.objects.get(id=1)
    state.revision += 1
    state.generated_at = timezone.now()
    replace_graph(as_graph(churn.nodes, churn.edges), state.revision)
    state.save()
    gz = encode(delta, DELTA_GZIP_LEVEL)
    GraphRevision.objects.create(
        revision=state.revision, at=state.generated_at, causes=[{"kind": "cloud"}], delta_gz=gz, size=len(gz)
    )


def member_project(graph: JsonDict, src: str) -> str:
    node = next(n for n in graph["nodes"] if n["id"] == src)
    return str(node["project_id"])


def clients(project: str) -> dict[str, Any]:
    from django.conf import settings
    from django.test import Client

    from tests.browser import caller, session_for

    made = {}
    for who, session in (
        ("admin", caller("admin", "admin-project", admin=True)),
        ("member", caller("member", project)),
    ):
        client = Client()
        client.cookies[settings.SESSION_COOKIE_NAME] = session_for(session)
        made[who] = client
    return made


def asker(made: dict[str, Any], url: str) -> Callable[[str], tuple[Timing, JsonDict]]:
    def ask(who: str) -> tuple[Timing, JsonDict]:
        wall, cpu = time.perf_counter(), time.process_time()
        response = made[who].get(url)
        timing = (time.perf_counter() - wall, time.process_time() - cpu)
        assert response.status_code == 200, (who, response.status_code, response.content[:300])
        return timing, response.json()

    return ask


def whole_request(
    churn: Churn,
    reports: dict[str, JsonDict],
    blob: bytes,
    rows: list[Row],
    src: str,
    outside: str,
    repeat: int,
    first: str = "admin",
    profile: bool = False,
) -> JsonDict:
    """Cold (``first`` asks), then per round a new revision or the history dropped, each caller, and warm."""
    from urllib.parse import urlencode

    from django.conf import settings
    from django.utils import timezone

    from topology.history import window

    now = timezone.now()
    shift = now - rows[-1][1] - timedelta(minutes=1)  # the day ends a minute ago
    rows = [(r, at + shift, causes, gz) for r, at, causes, gz in rows]
    graph = as_graph(churn.nodes, churn.edges)
    store(Path(settings.DATABASES["default"]["NAME"]), graph, reports, blob, rows)
    made = clients(member_project(graph, src))
    ask = asker(made, "/api/v1/path/?" + urlencode({"src": src, "dst": outside, "probe": "icmp", "since": "1"}))
    if profile:  # the cold request under cProfile (its figures are cProfile's, not the timed ones)
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        (wall, _), _ = ask(first)
        profiler.disable()
        print(f"cold request of the {first} under cProfile: {wall:.2f} s")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
        return {}
    cold, body = ask(first)
    answers = {first: body}
    times: dict[str, list[Timing]] = {}
    kinds = [(kind, who) for kind in ("new revision", "history dropped") for who in CALLERS]
    for round_ in range(repeat):
        for kind, who in kinds[round_ % len(kinds) :] + kinds[: round_ % len(kinds)]:  # the order rotates
            if kind == "new revision":
                new_revision(churn)  # committed, not timed
            else:
                forget_history(window)
            timing, answers[who] = ask(who)
            times.setdefault(f"{kind}, {who}", []).append(timing)
            times.setdefault(f"warm, {who}", []).append(ask(who)[0])
    return {"cold": {"caller": first, "wall": cold[0], "cpu": cold[1]}, "times": times, "answers": answers}


def forget_history(window: Any) -> None:
    """The history's per-process keep dropped (and the checkpoint nodes' keep, where this tree has one)."""
    window.forget()


def summary(result: JsonDict, load: float | None = None) -> str:
    cold = result["cold"]
    lines = [f"  cold, {cold['caller']} (first of the process): wall {cold['wall']:.3f} s, CPU {cold['cpu']:.3f} s"]
    for kind, values in sorted(result["times"].items()):
        walls, cpus = [w for w, _ in values], [c for _, c in values]
        lines.append(
            f"  {kind}: wall median {statistics.median(walls):.3f} s (max {max(walls):.3f}), "
            f"CPU median {statistics.median(cpus):.3f} s (max {max(cpus):.3f}), n={len(values)}"
        )
    lines.append(f"  load average {os.getloadavg()[0] if load is None else load:.1f}")
    return "\n".join(lines)


def answer_lines(answers: dict[str, JsonDict]) -> str:
    out = []
    for who, body in sorted(answers.items()):
        since = body["since"]
        out.append(
            f"  {who}: verdict {body['verdict']}; {since['walks']} past walks, {len(since['changes'])} changes, "
            f"in force {len(since['in_force'])}; headline: {since.get('headline')}"
        )
    return "\n".join(out)


def stamp() -> str:
    return datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
