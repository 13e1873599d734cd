"""POST a report to the dashboard (`POST /api/v1/agents/report/`), stdlib only.

Connection errors, 5xx and 429 answers are retried with exponential backoff
(the dashboard restarting must not lose the node), or after the server's
Retry-After when a 429/503 gives one; other 4xx answers are not: a rejected
report will be rejected again, so the server's reasons are shown instead.
The long-running agent retries a failed delivery itself until it succeeds
(topology/agent/delivery.py).
"""

from __future__ import annotations

import email.utils
import gzip
import json
import logging
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from topology.agent.version import agent_version
from topology.report.contract import REPORT_VERSION

LOG = logging.getLogger(__name__)

# https: the report carries the host's bearer token. A lab on one machine passes its own http URL.
DEFAULT_URL = "https://localhost/api/v1/agents/report/"
# The report version rides in the User-Agent too: a dashboard's log tells which agents are behind.
USER_AGENT = f"neutron-map-agent/{agent_version()} (report {REPORT_VERSION})"


class ReportRejected(Exception):
    """The dashboard answered 4xx: the report or the token is wrong; retrying will not help."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP {status}: {reason}")
        self.status = status
        self.reason = reason


# Statuses that mean "later": retried, after Retry-After when the server gives one.
RETRY_LATER = (429, 503)
MAX_RETRY_AFTER = 600.0  # seconds: a larger Retry-After is taken as this


class SendFailed(Exception):
    """The dashboard could not be reached (or kept failing) after all retries."""

    def __init__(self, message: str, *, answered: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.answered = answered  # the server answered (5xx/429), as opposed to no connection
        self.retry_after = retry_after  # seconds the server asked to wait, if it did


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds of a Retry-After header (delta-seconds or an HTTP date), bounded; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


@dataclass(frozen=True)
class Target:
    url: str
    token: str
    gzip: bool = False
    timeout: float = 30.0
    ssl_context: ssl.SSLContext | None = None  # None: the system's CAs, verified


def tls_context(ca_file: Path | None, verify: bool) -> ssl.SSLContext | None:
    """The context for https/wss: the given CA bundle, or no verification at all (a lab), or None (system CAs)."""
    if not verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if ca_file is not None:
        return ssl.create_default_context(cafile=str(ca_file))
    return None


def encode(report: dict[str, Any], compress: bool) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(report, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json"}
    if compress:
        # A report is mostly repeated keys and flow text: gzip level 1 takes
        # it to a tenth of its size for a few ms per MiB.
        body = gzip.compress(body, compresslevel=1)
        headers["Content-Encoding"] = "gzip"
    return body, headers


def post_report(
    report: dict[str, Any],
    target: Target,
    *,
    attempts: int = 5,
    backoff: float = 1.0,
    max_backoff: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Send ``report``; the server's JSON answer. Raises ReportRejected or SendFailed."""
    body, headers = encode(report, target.gzip)
    headers["Authorization"] = f"Bearer {target.token}"
    headers["User-Agent"] = USER_AGENT
    delay = backoff
    last_error = ""
    answered = False
    hint: float | None = None
    for attempt in range(1, attempts + 1):
        try:
            return _post_once(target, body, headers)
        except urllib.error.HTTPError as exc:
            reason = _reason(exc)
            if exc.code < 500 and exc.code != 429:
                raise ReportRejected(exc.code, reason) from exc
            answered = True
            hint = retry_after(exc.headers.get("Retry-After")) if exc.code in RETRY_LATER else None
            last_error = f"HTTP {exc.code}: {reason}"
        except (urllib.error.URLError, OSError) as exc:
            answered, hint = False, None
            last_error = str(getattr(exc, "reason", exc))
        if attempt < attempts:
            wait = delay if hint is None else hint
            LOG.warning(
                "report to %s failed (%s), retry %d/%d in %.0f s", target.url, last_error, attempt, attempts - 1, wait
            )
            sleep(wait)
            delay = min(delay * 2, max_backoff)
    raise SendFailed(f"{target.url}: {last_error} (after {attempts} attempts)", answered=answered, retry_after=hint)


def whoami_url(report_url: str) -> str:
    """``.../agents/whoami/`` beside the report endpoint ``.../agents/report/``."""
    return urllib.parse.urljoin(report_url if report_url.endswith("/") else report_url + "/", "../whoami/")


def get_json(url: str, target: Target) -> dict[str, Any]:
    """One authenticated GET (``--check``): the JSON answer. Raises ReportRejected (4xx) or SendFailed."""
    headers = {"Authorization": f"Bearer {target.token}", "User-Agent": USER_AGENT, "Accept": "application/json"}
    request = urllib.request.Request(url, headers=headers, method="GET")
    try:
        with urllib.request.urlopen(request, timeout=target.timeout, context=target.ssl_context) as response:
            payload = response.read()
    except urllib.error.HTTPError as exc:
        reason = _reason(exc)
        if exc.code < 500:
            raise ReportRejected(exc.code, reason) from exc
        raise SendFailed(f"{url}: HTTP {exc.code}: {reason}", answered=True) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise SendFailed(f"{url}: {getattr(exc, 'reason', exc)}") from exc
    try:
        answer = json.loads(payload)
    except ValueError as exc:
        raise SendFailed(f"{url}: not JSON: {payload[:200]!r}", answered=True) from exc
    return answer if isinstance(answer, dict) else {}


def _post_once(target: Target, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    request = urllib.request.Request(target.url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=target.timeout, context=target.ssl_context) as response:
        payload = response.read()
    try:
        answer = json.loads(payload) if payload else {}
    except ValueError:
        answer = {"body": payload.decode(errors="replace")[:500]}
    return answer if isinstance(answer, dict) else {"body": answer}


def _reason(exc: urllib.error.HTTPError) -> str:
    """The server's reason: the list of reasons of a 400, its `detail`, or the start of the body."""
    try:
        payload = exc.read()
    except OSError:
        payload = b""
    try:
        answer = json.loads(payload)
    except ValueError:
        return payload.decode(errors="replace").strip()[:500] or str(exc.reason)
    if isinstance(answer, dict):
        reasons = answer.get("reasons")
        if isinstance(reasons, list) and reasons:
            return "; ".join(str(r) for r in reasons[:20])
        if answer.get("detail"):
            return str(answer["detail"])
    return json.dumps(answer)[:500]
