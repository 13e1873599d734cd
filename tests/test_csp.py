"""The Content-Security-Policy: strict on every page, kept by the templates, enforced by a real browser."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from tests.browser import daphne_server
from tests.conftest import ARTIFACTS, REPO

TEMPLATES = sorted((REPO / "templates").glob("*.html"))


@pytest.mark.django_db
def test_every_page_gets_a_strict_policy(client: Client) -> None:
    policy = client.get("/login/")["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy
    assert directives["connect-src"] == "'self' ws://testserver wss://testserver"
    # The API's answers carry it too (a JSON error rendered as a page runs nothing either).
    assert "script-src 'self'" in client.get("/api/v1/topology/")["Content-Security-Policy"]


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_templates_have_no_inline_script_or_style(template: Path) -> None:
    text = template.read_text()
    for tag in re.findall(r"<script\b[^>]*>", text):
        assert "src=" in tag, f"inline <script> in {template.name}: {tag}"
    assert "<style" not in text
    assert not re.search(r"\son[a-z]+\s*=", text), f"inline event handler in {template.name}"
    assert not re.search(r"\sstyle\s*=", text), f"inline style attribute in {template.name}"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_chromium_refuses_an_injected_script_and_the_tests_see_it(browser: Any) -> None:
    with daphne_server(ARTIFACTS / "csp-daphne.log") as url:
        page = browser.new_page()
        page.goto(url + "/login/")
        page.evaluate("""document.body.insertAdjacentHTML("beforeend",
            '<img src="/static/none.png" onerror="window.injected = 1"><div style="color: red">x</div>')""")
        page.wait_for_function("document.querySelectorAll('img').length > 0")
        page.wait_for_timeout(500)
        assert page.evaluate("window.injected") is None
        violations = list(browser.csp_violations)
        browser.csp_violations.clear()  # seen on purpose: the fixture must not fail this test
    assert any("script-src" in v for v in violations), violations
    assert any("style-src" in v for v in violations), violations
