"""The agent sends its bearer token over https unless told otherwise; the lab tells it its own URL."""

from __future__ import annotations

from topology.agent.__main__ import parse_args


def test_the_default_report_url_is_https() -> None:
    args = parse_args(["--print"])
    assert args.url.startswith("https://")
    assert args.url.endswith("/api/v1/agents/report/")


def test_the_labs_agents_pass_the_labs_own_url() -> None:
    from lab import nodeagent

    argv = nodeagent.daemon("controller").argv
    assert argv[argv.index("--url") + 1] == nodeagent.URL
    assert nodeagent.URL.startswith("http://127.0.0.1:")
