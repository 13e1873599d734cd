"""Fuzz the agent report ingest through the real endpoint, and count what happened.

    .venv/bin/python -m bench.fuzz_ingest [--cases 10000] [--seed 0]

Every case (bench/report_strategies.py: valid, near-valid and hostile bodies) is
POSTed to ``/api/v1/agents/report/`` with the fuzzed host's real agent token,
through Django's test client (the real view, the real database: a throwaway
SQLite test database; Redis for the deltas as configured). After each case it
checks that

- the answer is never a 5xx;
- a rejected report changed nothing stored (reports, history, revision);
- an accepted one changed no node of the other host (but for warnings about the fuzzed host);
- the graph is not frozen: a new report from the other host is still applied.

It prints the counts by family and outcome and the time per case; a broken
check stops it with the case that broke it (hypothesis shrinks it first).
tests/test_ingest_fuzz.py runs the same with a few hundred derandomized cases.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
from collections import Counter
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")


class IngestFuzz:
    """The two hosts' tokens, the stored cloud, and the checks made around each case."""

    def __init__(self, client: Any) -> None:
        from bench.report_strategies import CLOUD, FUZZ_HOST, REPORTS, STEADY_HOST
        from topology.services import issue_agent_token, store_snapshot

        self.client = client
        self.fuzz_host, self.steady_host = FUZZ_HOST, STEADY_HOST
        self.steady_report = copy.deepcopy(REPORTS[STEADY_HOST])
        store_snapshot(CLOUD, "fuzz")
        self.tokens = {host: issue_agent_token(host) for host in (FUZZ_HOST, STEADY_HOST)}
        self.counts: Counter[str] = Counter()
        self.probes = 0
        self.check_not_frozen()

    def post(self, body: bytes, host: str, headers: dict[str, str] | None = None) -> Any:
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()}
        return self.client.post(
            "/api/v1/agents/report/",
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {self.tokens[host]}",
            **extra,
        )

    def run(self, case: Any) -> str:
        """Post one case and check it; returns its outcome ("<label> -> <status>")."""
        stored_before, revision_before = self.stored(), self.revision()
        steady_before = self.steady_nodes()
        response = self.post(case.body, self.fuzz_host, case.headers)
        status = response.status_code
        assert status < 500, f"{case.label}: {status} {response.content[:500]!r}"
        if status != 202:
            assert self.stored() == stored_before, f"{case.label}: rejected ({status}) but stored"
            assert self.revision() == revision_before, f"{case.label}: rejected ({status}) but the graph moved"
        else:
            after = self.steady_nodes()
            changed = sorted(k for k in set(after) | set(steady_before) if after.get(k) != steady_before.get(k))
            assert not changed, f"{case.label}: accepted, and changed {self.steady_host}'s nodes {changed[:5]}"
        self.check_not_frozen()
        outcome = f"{case.label} -> {status}"
        self.counts[outcome] += 1
        return outcome

    def check_not_frozen(self) -> None:
        """A new report from the other host is applied: its new namespace is in the graph."""
        from topology.models import GraphState

        self.probes += 1
        name = f"probe-{self.probes}"
        report = copy.deepcopy(self.steady_report)
        report["namespaces"].append(
            {"name": name, "interfaces": [], "routes": [], "rules": [], "iptables": {"nat": "", "filter": ""}}
        )
        response = self.post(json.dumps(report).encode(), self.steady_host)
        assert response.status_code == 202, f"the graph is frozen: {response.status_code} {response.content[:300]!r}"
        nodes = GraphState.objects.the_row().get().graph["nodes"]
        assert any(n["id"] == f"netns:{self.steady_host}:{name}" for n in nodes), "the other host's report was lost"

    def stored(self) -> tuple[list[tuple[str, str, str]], int]:
        from topology.models import HostReport, HostReportChange

        rows = [(r.host, r.digest, json.dumps(r.report, sort_keys=True)) for r in HostReport.objects.order_by("host")]
        return rows, HostReportChange.objects.count()

    def revision(self) -> int:
        from topology.services import current_revision

        return current_revision()

    def steady_nodes(self) -> dict[str, str]:
        """The other host's nodes as JSON, less the warnings that are about the fuzzed host."""
        from topology.models import GraphState

        state = GraphState.objects.the_row().first()
        nodes: dict[str, str] = {}
        for node in (state.graph if state else {}).get("nodes", []):
            if node.get("host") != self.steady_host:
                continue
            node = copy.deepcopy(node)
            attrs = node.get("attrs", {})
            if "warnings" in attrs:
                attrs["warnings"] = [w for w in attrs["warnings"] if self.fuzz_host not in w]
                if not attrs["warnings"]:
                    del attrs["warnings"]
            attrs.pop("remote_host", None) if attrs.get("remote_host") == self.fuzz_host else None
            nodes[node["id"]] = json.dumps(node, sort_keys=True)
        return nodes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    django.setup()
    import logging

    logging.getLogger("django.request").setLevel(logging.ERROR)  # every 4xx would log a line
    # stale browsers' channels in the shared Redis group: a line per delta otherwise
    logging.getLogger("channels_redis").setLevel(logging.ERROR)
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment
    from hypothesis import HealthCheck, given, seed
    from hypothesis import settings as hsettings

    from bench.report_strategies import cases

    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = str(settings.VAR_DIR / "fuzz-ingest.sqlite3")
    setup_test_environment()
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    fuzz = IngestFuzz(Client())
    times: list[float] = []

    @seed(args.seed)
    @hsettings(
        max_examples=args.cases,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(cases)
    def run(case: Any) -> None:
        started = time.perf_counter()
        fuzz.run(case)
        times.append(time.perf_counter() - started)

    started = time.perf_counter()
    try:
        run()
    finally:
        elapsed = time.perf_counter() - started
        print(f"{sum(fuzz.counts.values())} cases in {elapsed:.1f} s", flush=True)
        for outcome, count in sorted(fuzz.counts.items()):
            print(f"  {count:6d}  {outcome}")
        if times:
            times.sort()
            print(
                f"per case (the case and the other host's probe, two POSTs): "
                f"median {times[len(times) // 2] * 1000:.1f} ms, p99 {times[int(len(times) * 0.99)] * 1000:.1f} ms, "
                f"max {times[-1] * 1000:.1f} ms"
            )


if __name__ == "__main__":
    main()
