"""schemathesis over the REST API's own schema with real Keystone tokens: no 5xx anywhere.

    .venv/bin/python -m bench.api_schemathesis [--examples 50] [--all-methods]    (needs the lab)

The schema is loaded from ``/api/v1/schema/`` of the dashboard's WSGI
application (the real views, a throwaway SQLite test database joined from the
real lab cloud) and every operation is called with cases schemathesis
generates from it, once as ``admin`` and once as the project-scoped ``demo``
(``X-Auth-Token``, real lab Keystone); the agent report endpoint also gets a
real agent token. Without ``--all-methods`` only GET operations and the agent
report run. With it, the actions (POST floating IPs, router gateways ...) run
too: their jobs go to a Redis database no worker listens on
(``ACTIONS_BROKER_URL``, purged at the end), so nothing generated ever reaches
the lab. It prints the answers by operation and status, and every 5xx.
tests/test_api_schemathesis.py runs the same with a bounded number of examples.
"""

from __future__ import annotations

import argparse
import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

# A Redis database no Celery worker reads: jobs queued by generated actions stay there.
ACTIONS_BROKER_URL = os.environ.get("SCHEMATHESIS_BROKER_URL", "redis://127.0.0.1:6379/13")
SCHEMA_PATH = "/api/v1/schema/"
AGENT_REPORT_PATH = "/api/v1/agents/report/"


@dataclass
class Findings:
    """What the API answered: counts by (caller, operation, status), and the 5xx with their case."""

    counts: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


def keystone_token(lab: dict[str, Any], user: str) -> str:
    import yaml
    from keystoneauth1 import session as ksa_session
    from keystoneauth1.identity import v3

    with open(lab["clouds_yaml"]) as fh:
        password = yaml.safe_load(fh)["clouds"][f"lab-{user}"]["auth"]["password"]
    auth = v3.Password(
        auth_url=lab["keystone_url"],
        username=user,
        password=password,
        project_name=user,
        user_domain_name="Default",
        project_domain_name="Default",
    )
    return str(ksa_session.Session(auth=auth).get_token())


@contextmanager
def jobs_parked() -> Iterator[None]:
    """Celery sends to a broker no worker listens on while generated actions run; purged after."""
    from dashboard.celery import app

    saved = app.conf.broker_url
    app.conf.broker_url = ACTIONS_BROKER_URL
    app._pool = None
    app.amqp._producer_pool = None
    try:
        yield
    finally:
        with app.connection_for_write() as connection:
            connection.default_channel.queue_purge("celery")
        app.conf.broker_url = saved
        app._pool = None
        app.amqp._producer_pool = None


def load_schema(app: Any, token: str) -> Any:
    import schemathesis

    return schemathesis.openapi.from_wsgi(SCHEMA_PATH, app, headers={"X-Auth-Token": token})


def operations(schema: Any, all_methods: bool) -> list[Any]:
    found = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if all_methods or operation.method.upper() == "GET" or operation.path == AGENT_REPORT_PATH:
            found.append(operation)
    return found


def call_all(
    schema: Any,
    caller: str,
    headers: dict[str, str],
    agent_token: str,
    max_examples: int,
    all_methods: bool,
    findings: Findings,
    check: Callable[[str, Any, Any], None] | None = None,
) -> None:
    """Each operation's generated cases, called with ``headers``; a 5xx is recorded (and ``check`` may assert)."""
    from hypothesis import HealthCheck, given, settings

    def cases_of(operation: Any, name: str, call_headers: dict[str, str]) -> Callable[[], None]:
        @settings(
            max_examples=max_examples,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            response = case.call(headers=call_headers)
            findings.counts[(caller, name, response.status_code)] += 1
            if response.status_code >= 500:
                findings.errors.append(
                    f"{caller} {name} -> {response.status_code}: {case.formatted_path} "
                    f"query={case.query} body={str(case.body)[:200]}: {response.text[:300]}"
                )
            if check is not None:
                check(caller, case, response)

        return run

    for operation in operations(schema, all_methods):
        name = f"{operation.method.upper()} {operation.path}"
        call_headers = dict(headers)
        if operation.path == AGENT_REPORT_PATH:
            call_headers["Authorization"] = f"Bearer {agent_token}"
        cases_of(operation, name, call_headers)()


@contextmanager
def connections_kept() -> Iterator[None]:
    """Requests made in this process keep its database connection open, as Django's test Client does.

    A WSGI request closes the connection when it ends (``close_old_connections``); inside a test's
    transaction that would close the test database under the next request.
    """
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def run_lab(max_examples: int, all_methods: bool, check: Callable[[str, Any, Any], None] | None = None) -> Findings:
    """Both callers over every chosen operation (Django set up, a database ready, the lab up)."""
    from django.core.wsgi import get_wsgi_application

    from lab import api as lab_api
    from topology import services

    lab = lab_api.status()
    services.refresh_cloud()  # the graph the views read: the real lab's
    app = get_wsgi_application()
    agent_token = services.issue_agent_token(lab["host"])
    findings = Findings()
    with jobs_parked(), connections_kept():
        for caller in ("admin", "demo"):
            token = keystone_token(lab, caller)
            schema = load_schema(app, token)
            call_all(schema, caller, {"X-Auth-Token": token}, agent_token, max_examples, all_methods, findings, check)
    return findings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=50, help="cases per operation and caller")
    parser.add_argument("--all-methods", action="store_true", help="the actions too (their jobs are parked)")
    args = parser.parse_args()

    import logging

    import django

    django.setup()
    logging.getLogger("django.request").setLevel(logging.CRITICAL)
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = str(settings.VAR_DIR / "schemathesis.sqlite3")
    setup_test_environment()
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    findings = run_lab(args.examples, args.all_methods)
    for (caller, name, code), count in sorted(findings.counts.items()):
        print(f"  {count:5d}  {caller:5s} {code}  {name}")
    print(f"{sum(findings.counts.values())} calls, {len(findings.errors)} answered 5xx")
    for error in findings.errors:
        print("  5xx:", error)


if __name__ == "__main__":
    main()
