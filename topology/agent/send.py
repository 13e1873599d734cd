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
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

LOG = logging.getLogger(__name__)

# https: the report carries the host's bearer token. A lab on one machine passes its own http URL.
DEFAULT_URL = "https://localhost/api/v1/agents/report/"
USER_AGENT = "neutron-map-agent/1"


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
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


@dataclass(frozen=True)
class Target:
    url: str
    token: str
    gzip: bool = False
    timeout: float = 30.0


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


def _post_once(target: Target, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    request = urllib.request.Request(target.url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=target.timeout) as response:
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
