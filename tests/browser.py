"""Helpers for browser tests: a real ASGI server (daphne) on the test database, headless Chromium,
and logged-in sessions.

Daphne runs in a subprocess so that websockets go through the real Channels stack and Redis;
it shares the test database because the test database is a file (settings: DATABASES TEST NAME)
and the tests using it commit (``transactional_db``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.utils import timezone

from dashboard.auth import SESSION_KEY, Caller, shadow_user
from tests.conftest import REPO, free_port

T = TypeVar("T")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def daphne_server(log_path: Path) -> Iterator[str]:
    """``daphne dashboard.asgi:application`` on a free port, on the database this test uses."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{connection.settings_dict['NAME']}",
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "PYTHONUNBUFFERED": "1",
    }
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "dashboard.asgi:application"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/login/", proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"daphne exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {timeout}s")


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still
    # synchronous (Django's documented escape hatch for this case).
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        violations = watch_csp(browser)
        try:
            with csp_safe_waits():
                yield browser
            # A page that needs what the Content-Security-Policy forbids fails its test.
            assert not violations, f"the pages broke their Content-Security-Policy: {violations}"
        finally:
            browser.close()


@contextmanager
def csp_safe_waits() -> Iterator[None]:
    """``Page.wait_for_function`` as a poll of ``Page.evaluate``.

    Playwright's own wait re-evaluates its predicate inside the page with eval(), which the
    pages' policy (no 'unsafe-eval') refuses; evaluate() goes through the DevTools protocol,
    which the policy does not govern. The pages' own scripts stay under the full policy.
    """
    from playwright.sync_api import Error, Page, TimeoutError

    original = Page.wait_for_function

    def wait_for_function(
        self: Any, expression: str, *, arg: Any = None, timeout: float | None = None, polling: float | str | None = None
    ) -> Any:
        interval = polling if isinstance(polling, int | float) else 50
        # Playwright's meaning: None is its default of 30 s, 0 waits for ever.
        deadline = time.monotonic() + (30000 if timeout is None else timeout or 1e12) / 1000
        last_error: Exception | None = None
        while True:
            try:
                value = self.evaluate(expression, arg)
                if value:
                    return value
            except Error as exc:  # e.g. the page navigating meanwhile: try again
                last_error = exc
            if time.monotonic() >= deadline:
                raise TimeoutError(f"wait_for_function({expression!r}) timed out; last error: {last_error}")
            self.wait_for_timeout(interval)

    Page.wait_for_function = wait_for_function  # type: ignore[method-assign, assignment]
    try:
        yield
    finally:
        Page.wait_for_function = original  # type: ignore[method-assign]


# Reported by the page itself: Chromium's own console line for a violation is not a console API call.
CSP_WATCH = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error("CSP violation: " + e.effectiveDirective + " blocked " + (e.blockedURI || "inline") +
                " in " + e.sourceFile + ":" + e.lineNumber);
});
"""


def watch_csp(browser: Any) -> list[str]:
    """Every page of ``browser``'s new contexts and pages reports CSP violations into the list returned
    (also ``browser.csp_violations``)."""
    violations: list[str] = []

    def watch(target: Any) -> Any:
        target.add_init_script(CSP_WATCH)
        target.on("console", lambda m: violations.append(m.text) if m.text.startswith("CSP violation:") else None)
        return target

    new_context, new_page = browser.new_context, browser.new_page
    browser.new_context = lambda *a, **k: watch(new_context(*a, **k))
    browser.new_page = lambda *a, **k: watch(new_page(*a, **k))
    browser.csp_violations = violations
    return violations


def caller(name: str, project_id: str | None, *, admin: bool = False, minutes: int = 60) -> Caller:
    return Caller(
        user_id=f"user-{name}",
        user_name=name,
        project_id=project_id,
        project_name=project_id,
        roles=("admin", "member") if admin else ("member",),
        expires_at=(timezone.now() + timedelta(minutes=minutes)).isoformat(),
    )


def session_for(who: Caller) -> str:
    """A logged-in session as the login view makes it (without asking Keystone); returns its key."""
    user = shadow_user(who)
    store = SessionStore()
    store["_auth_user_id"] = str(user.pk)
    store["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    store["_auth_user_hash"] = user.get_session_auth_hash()
    store[SESSION_KEY] = who.to_dict()
    store["keystone_projects"] = [{"id": who.project_id, "name": who.project_name}]
    store.create()
    assert store.session_key is not None
    return store.session_key


def session_cookie(key: str, url: str) -> dict[str, Any]:
    return {"name": settings.SESSION_COOKIE_NAME, "value": key, "url": url}


def login(page: Any, base_url: str, user: str, password: str, next_url: str = "/map/") -> None:
    """Log in through the real login page (Keystone)."""
    page.goto(f"{base_url}/login/?next={next_url}")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit], form.login button")
    page.wait_for_url(f"**{next_url}**")


def wait_drawn(page: Any, revision: int | None = None, timeout: float = 15000) -> None:
    """Until the map has drawn (at least ``revision``)."""
    if revision is None:
        page.wait_for_function("window.neutronMap && window.neutronMap.stats.draws > 0", timeout=timeout)
    else:
        page.wait_for_function(
            f"window.neutronMap && window.neutronMap.stats.drawnRevision >= {revision}", timeout=timeout
        )


def off_loop(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn`` in another thread: Playwright's loop in this one stops async_to_sync (publishing)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args).result()


def open_map(browser: Any, url: str, who: Caller, path: str = "/map/") -> Any:
    """A page of ``path`` in a new browser context, logged in as ``who`` by a session cookie, drawn."""
    context = browser.new_context(viewport={"width": 1500, "height": 950})
    context.add_cookies([session_cookie(session_for(who), url)])
    page = context.new_page()
    page.goto(url + path)
    wait_drawn(page)
    return page
