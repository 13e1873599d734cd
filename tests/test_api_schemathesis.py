"""schemathesis over /api/v1/schema/ on the real lab, as admin and as demo: no 5xx anywhere.

bench/api_schemathesis.py runs more examples; here a bounded number per operation,
derandomized. Every method runs: the actions' jobs are queued on commit, which a
test transaction never reaches, and the broker is a Redis database no worker reads
(bench.api_schemathesis.jobs_parked), so no generated action reaches the lab.
"""

from __future__ import annotations

from typing import Any

import pytest

from bench.api_schemathesis import run_lab

pytestmark = [pytest.mark.lab, pytest.mark.django_db]
EXAMPLES = 8


def test_no_operation_answers_5xx_to_admin_or_demo(lab: dict[str, Any]) -> None:
    findings = run_lab(EXAMPLES, all_methods=True)
    assert not findings.errors, "\n".join(findings.errors)
    callers = {caller for caller, _, _ in findings.counts}
    assert callers == {"admin", "demo"}
    operations = {name for _, name, _ in findings.counts}
    # the schema's operations were really called, reads and actions alike
    assert {"GET /api/v1/topology/", "GET /api/v1/path/", "POST /api/v1/agents/report/"} <= operations
    assert any(name.startswith(("POST", "PUT", "DELETE")) and "report" not in name for name in operations)
    assert any(code < 400 for _, _, code in findings.counts)  # not only refusals
