"""Running one probe's argv: no shell, a timeout and an output limit (its process group killed past either)."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass

MAX_OUTPUT_BYTES = 256 * 1024


@dataclass
class Run:
    argv: list[str]
    exit_status: int | None  # None: killed (timeout or output limit)
    output: str
    errors: str
    timed_out: bool = False
    truncated: bool = False
    duration_ms: int = 0


def run_bounded(argv: Sequence[str], timeout: float, limit: int = MAX_OUTPUT_BYTES) -> Run:
    """Run argv (no shell) for at most ``timeout`` s, reading at most ``limit`` bytes of stdout and of stderr."""
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
        )
    except OSError as exc:
        return Run(list(argv), 127, "", f"{argv[0]}: {exc}")
    assert process.stdout is not None and process.stderr is not None
    out_fd, err_fd = process.stdout.fileno(), process.stderr.fileno()
    chunks: dict[int, list[bytes]] = {out_fd: [], err_fd: []}
    sizes = dict.fromkeys(chunks, 0)
    open_fds = set(chunks)
    timed_out = truncated = False
    while open_fds:
        left = started + timeout - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        ready, _, _ = select.select(list(open_fds), [], [], left)
        for fd in ready:
            data = os.read(fd, 65536)
            if not data:
                open_fds.discard(fd)
                continue
            keep = data[: max(limit - sizes[fd], 0)]
            chunks[fd].append(keep)
            sizes[fd] += len(data)
            if sizes[fd] > limit:
                truncated = True
                open_fds.clear()
                break
    if timed_out or truncated:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    status = process.wait()
    process.stdout.close()  # after reading: the fds stay valid until here
    process.stderr.close()
    return Run(
        argv=list(argv),
        exit_status=None if (timed_out or truncated) else status,
        output=b"".join(chunks[out_fd]).decode(errors="replace"),
        errors=b"".join(chunks[err_fd]).decode(errors="replace"),
        timed_out=timed_out,
        truncated=truncated,
        duration_ms=round((time.monotonic() - started) * 1000),
    )
