"""The change history of host reports, made from the stored inventory instead of the previous report.

``services.store_report`` keeps each report's names by section (HostReport.inventory,
topology/report_inventory.py); the next report's HostReportChange is computed from them. These
tests hold it to what decoding the previous report gave (``summarize_report_change`` of both
reports), show that the previous report's column is not read, and cover rows without an
inventory it can trust (written by hand, before migration 0007) and the migration's backfill.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench.synthetic import synthetic_cloud
from topology import services
from topology.models import HostReport, HostReportChange
from topology.report_inventory import decode_inventory, report_inventory

HOST = "compute0000"


def reports_of(hosts: int = 2) -> dict[str, dict[str, Any]]:
    return synthetic_cloud(hosts=hosts, ports=8 * hosts, projects=2, network_nodes=1)[1]


def mutated(report: dict[str, Any], rng: random.Random, seq: int) -> dict[str, Any]:
    """The host's next report: newer, with namespaces, interfaces (root and in namespaces) and
    bridges added or dropped at random (sometimes nothing but the time)."""
    new = copy.deepcopy(report)
    new["collected_at"] = f"2026-12-03T03:{seq // 60 % 60:02d}:{seq % 60:02d}Z"
    for _ in range(rng.randint(0, 3)):
        what = rng.choice(["iface+", "iface-", "ns+", "ns-", "nsiface+", "bridge+", "bridge-", "none"])
        if what == "iface+":
            new["interfaces"].append({**new["interfaces"][0], "name": f"tap{seq}x{rng.randint(0, 99)}"})
        elif what == "iface-" and len(new["interfaces"]) > 1:
            new["interfaces"].pop(rng.randrange(len(new["interfaces"])))
        elif what == "ns+":
            new["namespaces"].append({"name": f"qdhcp-{seq}", "interfaces": [], "routes": [], "rules": []})
        elif what == "ns-" and new["namespaces"]:
            new["namespaces"].pop(rng.randrange(len(new["namespaces"])))
        elif what == "nsiface+" and new["namespaces"]:
            ns = rng.choice(new["namespaces"])
            ns["interfaces"] = [*(ns.get("interfaces") or []), {"name": f"qr-{seq}", "state": "UP"}]
        elif what == "bridge+" and new.get("ovs"):
            new["ovs"]["bridges"].append({"name": f"br-{seq}", "ports": []})
        elif what == "bridge-" and (new.get("ovs") or {}).get("bridges"):
            new["ovs"]["bridges"].pop()
    return new


def summaries(host: str) -> list[dict[str, Any]]:
    return [c.summary for c in HostReportChange.objects.filter(host=host).order_by("id")]


@pytest.mark.django_db
def test_the_history_is_what_decoding_the_previous_report_gave() -> None:
    rng = random.Random(13)
    report = reports_of()[HOST]
    expected = []
    previous: dict[str, Any] | None = None
    for seq in range(60):
        services.store_report(HOST, report, 1)
        summary = services.summarize_report_change(previous, report)  # the decoding reference
        if any(change["added"] or change["removed"] for change in summary.values()):
            expected.append(summary)
        previous, report = report, mutated(report, rng, seq)
    assert summaries(HOST) == expected
    assert len(expected) > 30  # the random changes did change names (and some reports did not)
    row = HostReport.objects.get(host=HOST)
    assert row.report == previous
    assert decode_inventory(row.inventory, row.digest) == report_inventory(previous)


@pytest.mark.django_db
def test_a_stored_report_is_not_read_back_to_summarize_the_next() -> None:
    report = reports_of()[HOST]
    services.store_report(HOST, report, 1)
    changed = mutated(report, random.Random(1), 1)
    changed["namespaces"].append({"name": "qdhcp-new", "interfaces": [], "routes": [], "rules": []})
    with CaptureQueriesContext(connection) as queries:
        services.store_report(HOST, changed, 1)
    selects = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    assert selects and not any('"report"' in sql for sql in selects), selects
    assert summaries(HOST)[-1]["namespaces"]["added"] == ["qdhcp-new"]


@pytest.mark.django_db
def test_a_row_written_without_its_digest_has_its_report_read_again() -> None:
    """As tests and operators do (``update(report=..., digest="")``): the inventory is not trusted."""
    report = reports_of()[HOST]
    services.store_report(HOST, report, 1)
    by_hand = copy.deepcopy(report)
    by_hand["namespaces"].append({"name": "qrouter-by-hand", "interfaces": [], "routes": [], "rules": []})
    HostReport.objects.filter(host=HOST).update(report=by_hand, digest="")
    services.store_report(HOST, report, 1)  # the by-hand namespace went away again
    assert summaries(HOST)[-1]["namespaces"] == {"added": [], "removed": ["qrouter-by-hand"]}


BEFORE = [("topology", "0006_watches")]


def migrate(target: list[tuple[str, str]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(target)
    executor.loader.build_graph()
    return executor


@pytest.fixture
def back_to_latest() -> Iterator[None]:
    yield
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_the_inventory_of_the_reports_already_stored(back_to_latest: None) -> None:
    reports = reports_of(3)
    old = migrate(BEFORE).loader.project_state(BEFORE).apps
    now = timezone.now()
    for number, (host, report) in enumerate(sorted(reports.items())):
        stale = number == 0  # a digest that is not its report's: left without an inventory
        old.get_model("topology", "HostReport").objects.create(
            host=host,
            collected_at=now,
            received_at=now,
            size=1,
            report=report,
            digest="0" * 32 if stale else services.hex_digest(report),
        )
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    rows = {row.host: row for row in HostReport.objects.all()}
    first, *others = sorted(reports)
    assert rows[first].inventory == ""
    for host in others:
        assert decode_inventory(rows[host].inventory, rows[host].digest) == report_inventory(reports[host])
    # and the next report of each is summarized against what was stored
    for host in sorted(reports):
        changed = copy.deepcopy(reports[host])
        changed["interfaces"].append({**changed["interfaces"][0], "name": "tapnew"})
        services.store_report(host, changed, 1)
        assert summaries(host)[-1] == services.summarize_report_change(reports[host], changed)
