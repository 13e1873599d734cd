"""When a checkpoint is written (topology/history/record.py), and that the writer decides it from its own
tally of the rows' sizes, not by reading them back, without deciding anything differently."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench.history import churn_step
from tests.history_inputs import Inputs, rebuild
from topology.history import record
from topology.history.models import GraphRevision

pytestmark = pytest.mark.django_db


def by_the_rule(rows: list[tuple[int, int, bytes | None]], every: int) -> list[int]:
    """The revisions that must be checkpoints, from the stored rows alone (the module's docstring)."""
    checkpoints: list[int] = []
    last_size = since = 0
    previous: int | None = None
    for revision, size, blob in rows:
        delta_bytes = size - len(blob or b"")
        if previous != revision - 1 or revision - checkpoints[-1] >= every or since + delta_bytes >= last_size:
            checkpoints.append(revision)
            last_size, since = size, 0
        else:
            since += size
        previous = revision
    return checkpoints


def churn(steps: int, capture: Any, poke_at: int | None = None) -> list[str]:
    """``steps`` synthetic changes, each committed (its on-commit callbacks run); the SQL of the last one."""
    inputs = Inputs(hosts=4, ports=16)
    inputs.store_all()
    with capture(execute=True):
        rebuild()
    rng = random.Random(9)
    sql: list[str] = []
    for n in range(steps):
        kind, hosts = churn_step(inputs.cloud, inputs.reports, rng, n)
        if kind in ("port", "vm"):
            inputs.store_cloud()
        inputs.store_reports(hosts | set(inputs.reports))
        if n == poke_at:  # another writer's turn: the row before is not the one this process counted
            assert record._tally is not None
            record._tally = record.Tally(record._tally.revision, record._tally.at - timedelta(seconds=1), 1, 1, 10**9)
        with capture(execute=True), CaptureQueriesContext(connection) as queries:
            rebuild()
        sql = [q["sql"] for q in queries.captured_queries]
    return sql


def rows() -> list[tuple[int, int, bytes | None]]:
    stored = GraphRevision.objects.order_by("revision").values_list("revision", "size", "checkpoint_gz")
    return [(revision, size, None if blob is None else bytes(blob)) for revision, size, blob in stored]


@pytest.mark.parametrize(
    ("every", "steps", "poke_at"),
    [
        (6, 30, None),  # mostly every sixth revision
        (6, 30, 11),
        (1000, 120, 70),  # by size only: the deltas since the checkpoint weigh as much as it does
    ],
)
def test_checkpoints_follow_the_rule_whether_the_tally_is_kept_or_asked_afresh(
    settings: Any, django_capture_on_commit_callbacks: Any, every: int, steps: int, poke_at: int | None
) -> None:
    settings.HISTORY_CHECKPOINT_EVERY = every
    record._tally = None
    churn(steps, django_capture_on_commit_callbacks, poke_at)
    stored = rows()
    actual = [revision for revision, _, blob in stored if blob is not None]
    assert len(stored) > steps * 2 // 3 and 3 <= len(actual) < len(stored) // 2, actual
    assert actual == by_the_rule(stored, every)


def test_the_next_revision_reads_no_sizes_back(settings: Any, django_capture_on_commit_callbacks: Any) -> None:
    settings.HISTORY_CHECKPOINT_EVERY = 6
    record._tally = None
    sql = churn(8, django_capture_on_commit_callbacks)
    revisions = [q for q in sql if "graphrevision" in q.lower()]
    assert revisions, sql  # the revision's row is written in this rebuild
    assert not [q for q in revisions if "SUM(" in q.upper() or "IS NOT NULL" in q.upper()], revisions
    assert record._tally is not None and record._tally.revision == rows()[-1][0]
