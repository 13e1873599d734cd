"""`manage.py migrate` from the previous schema keeps every stored row (README "Deploying", upgrades).

Each of the project's apps is migrated back to the migration before its latest (the schema
the previous release left), rows are made in every one of its tables through the historical
models of that schema (reports, report history, tokens, snapshots, graph state and views,
jobs, credentials, audit entries), then everything is migrated forward as `migrate` does.
Every row must still be there with every value it had. The rows are built from the models'
fields, so a table or migration added later is covered without editing this test.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, models
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

APPS = ("topology", "tasks")
WHEN = datetime.datetime(2026, 11, 30, 12, 0, 0, tzinfo=datetime.UTC)
ROWS_PER_MODEL = 3


def previous_targets(executor: MigrationExecutor) -> list[tuple[str, str]]:
    """For each app: the migration before its latest (its only parent within the app)."""
    graph = executor.loader.graph
    targets = []
    for app in APPS:
        (leaf,) = [node for node in graph.leaf_nodes() if node[0] == app]
        parents = [p for p in graph.node_map[leaf].parents if p.key[0] == app]
        assert len(parents) == 1, f"{leaf}: one parent in the app expected"
        targets.append(parents[0].key)
    return targets


def value_for(field: models.Field[Any, Any], model: str, i: int, made: dict[str, list[Any]]) -> Any:
    """A value of the field's type, different per row, that round-trips through the database."""
    if field.choices:
        choices = [c[0] for c in field.choices]
        return choices[i % len(choices)]
    if isinstance(field, models.ForeignKey | models.OneToOneField):
        parents = made[field.related_model._meta.label]
        return parents[i % len(parents)]
    if isinstance(field, models.UUIDField):
        return uuid.UUID(int=i + 1)
    if isinstance(field, models.JSONField):
        return {"version": 1, "host": f"node-{i}", "rows": [i, "ü", None, {"nested": True}], "model": model}
    if isinstance(field, models.BinaryField):
        return bytes([i]) * 16 + b"\x00\xff"
    if isinstance(field, models.DateTimeField):
        return WHEN + datetime.timedelta(minutes=i)
    if isinstance(field, models.FloatField):
        return 1.5 + i
    if isinstance(field, models.IntegerField):  # Positive*/Big/Small included
        return 7 + i
    if isinstance(field, models.BooleanField):
        return i % 2 == 0
    if isinstance(field, models.CharField | models.TextField):
        text = f"{model.split('.')[-1].lower()}-{field.name}-{i}"
        return text[-field.max_length :] if field.max_length else text
    raise AssertionError(f"{model}.{field.name}: no value for {type(field).__name__}; extend value_for()")


def make_rows(apps: Any) -> dict[str, list[Any]]:
    """ROWS_PER_MODEL rows in every table of APPS, parents first; their primary keys by model label."""
    made: dict[str, list[Any]] = {}
    pending = [m for app in APPS for m in apps.get_app_config(app).get_models()]
    while pending:
        model = next(
            m
            for m in pending
            if all(f.related_model._meta.label in made for f in m._meta.fields if f.is_relation and f.related_model)
        )
        pending.remove(model)
        label = model._meta.label
        objects = []
        for i in range(ROWS_PER_MODEL):
            values = {}
            for field in model._meta.fields:
                if isinstance(field, models.AutoField | models.BigAutoField):
                    continue
                values[field.attname] = value_for(field, label, i, made)  # a relation: the parent's key
            objects.append(model.objects.create(**values))
        made[label] = [o.pk for o in objects]
    return made


def snapshot(apps: Any, made: dict[str, list[Any]], fields: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """Every stored value of the rows made, by model label and primary key."""
    rows: dict[str, Any] = {}
    for label, pks in made.items():
        model = apps.get_model(label)
        names = fields[label] if fields else [f.attname for f in model._meta.fields]
        stored = {o.pk: {n: _plain(getattr(o, n)) for n in names} for o in model.objects.filter(pk__in=pks)}
        rows[label] = stored
    return rows


def _plain(value: Any) -> Any:
    return bytes(value) if isinstance(value, memoryview) else value


def test_migrating_from_the_previous_schema_keeps_every_row() -> None:
    executor = MigrationExecutor(connection)
    latest = [node for node in executor.loader.graph.leaf_nodes() if node[0] in APPS]
    previous = previous_targets(executor)
    try:
        executor.migrate(previous)
        old_apps = MigrationExecutor(connection).loader.project_state(previous).apps
        made = make_rows(old_apps)
        assert all(len(pks) == ROWS_PER_MODEL for pks in made.values())
        assert {"topology.HostReport", "topology.HostReportChange", "tasks.Job", "tasks.AuditEntry"} <= set(made)
        before = snapshot(old_apps, made)

        call_command("migrate", verbosity=0)  # what an operator runs after upgrading

        new_apps = MigrationExecutor(connection).loader.project_state(latest).apps
        after = snapshot(new_apps, made, {label: list(next(iter(r.values()))) for label, r in before.items()})
        assert after == before
    finally:
        MigrationExecutor(connection).migrate(latest)
