"""manage.py agent_token: print a token, or keep token files that stay valid across runs."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command

from topology.services import host_for_token

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("agent_token", *args, stdout=out)
    return out.getvalue()


def test_it_prints_a_token_that_authenticates_its_host() -> None:
    token = run("compute7").strip()
    assert host_for_token(token) == "compute7"


def test_it_keeps_valid_token_files_and_replaces_stale_ones(tmp_path: Path) -> None:
    run("--write-dir", str(tmp_path), "controller", "compute2")
    first = {h: (tmp_path / h).read_text().strip() for h in ("controller", "compute2")}
    assert {host_for_token(t) for t in first.values()} == {"controller", "compute2"}
    assert (tmp_path / "controller").stat().st_mode & 0o777 == 0o600
    assert run("--write-dir", str(tmp_path), "controller", "compute2") == ""  # nothing to do
    run("compute2")  # a token made elsewhere replaces the file's
    assert "compute2: new token" in run("--write-dir", str(tmp_path), "controller", "compute2")
    assert host_for_token((tmp_path / "compute2").read_text().strip()) == "compute2"
    assert (tmp_path / "controller").read_text().strip() == first["controller"]


def test_a_token_never_begins_with_a_dash_which_the_agents_command_line_would_take_for_an_option(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from topology.agent.__main__ import parse_args
    from topology.services import issue_agent_token

    dashed = "-" + "a" * 42
    with pytest.raises(SystemExit):  # what the agent did with such a token: "expected one argument", exit 2
        parse_args(["--host", "controller", "--token", dashed, "--url", "http://127.0.0.1:1/"])
    # The draw is random (1 in 64 began with "-"): a dashed one is made to come first (a stand-in for chance).
    draws = iter([dashed, "b" * 43])
    monkeypatch.setattr("topology.services.secrets.token_urlsafe", lambda n: next(draws))
    token = issue_agent_token("controller")
    assert token == "b" * 43 and host_for_token(token) == "controller"
    assert parse_args(["--host", "controller", "--token", token, "--url", "http://127.0.0.1:1/"]).host == "controller"
