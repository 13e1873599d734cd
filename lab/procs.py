"""Start and stop the lab's daemons: one session per daemon, pidfiles, logs.

Every daemon runs in the foreground in a new session (its pid is the session
id), so stopping it means signalling that one process group, by pid, and
`lab_processes()` can find whatever it forked. Pidfiles record the start time
too, so a recycled pid is never mistaken for a lab daemon.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lab import paths

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class View:
    """Where commands run: a host of the lab (its network and mount namespaces).

    `prefix` enters them (empty for host 1, `nsenter -t <holder> -n -m` for
    compute2); `netns_dir` is where that host's `ip netns` names live, as
    seen from host 1.
    """

    host: str
    prefix: tuple[str, ...] = ()
    netns_dir: Path = Path("/run/netns")


_views = threading.local()


def current_view() -> View | None:
    """The view `run()` and `start()` use in this thread (None: host 1, as is)."""
    return getattr(_views, "view", None)


@contextlib.contextmanager
def view(v: View | None) -> Iterator[None]:
    """Run commands and start daemons in `v` (per thread: threads start in host 1)."""
    previous = current_view()
    _views.view = v
    try:
        yield
    finally:
        _views.view = previous


def _in_view(argv: Sequence[str]) -> list[str]:
    v = current_view()
    return [*(v.prefix if v else ()), *argv]


@dataclass(frozen=True)
class Daemon:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    user: str | None = None  # e.g. postgres, which refuses to run as root
    stop_grace: float = 10.0  # seconds between stop_signal and SIGKILL
    stop_signal: int = signal.SIGTERM

    @property
    def pidfile(self) -> Path:
        return paths.RUN_DIR / f"{self.name}.pid"

    @property
    def logfile(self) -> Path:
        return paths.LOG_DIR / f"{self.name}.log"


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm (field 2) may contain spaces: split after its closing paren.
    return raw[raw.rindex(")") + 2 :].split()


def _start_time(pid: int) -> str | None:
    f = _stat_fields(pid)
    return f[19] if f else None


def pid_alive(pid: int) -> bool:
    f = _stat_fields(pid)
    if f is None or f[0] in ("Z", "X"):
        _reap(pid)
        return False
    return True


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def read_pid(name: str, run_dir: Path | None = None) -> int | None:
    """Pid of a running lab daemon, or None (stale pidfiles do not count)."""
    pidfile = (run_dir or paths.RUN_DIR) / f"{name}.pid"
    try:
        pid_s, started = pidfile.read_text().split()[:2]
    except (OSError, ValueError):
        return None
    pid = int(pid_s)
    if pid_alive(pid) and _start_time(pid) == started:
        return pid
    return None


def _stop_settings(name: str) -> tuple[int, float]:
    """How the daemon asked to be stopped when it started (signal, grace)."""
    try:
        fields = (paths.RUN_DIR / f"{name}.pid").read_text().split()
        return int(fields[2]), float(fields[3])
    except (OSError, ValueError, IndexError):
        return signal.SIGTERM, 10.0


def start(d: Daemon) -> int:
    pid = read_pid(d.name)
    if pid is not None:
        return pid
    paths.ensure_dirs()
    with open(d.logfile, "ab") as out:
        proc = subprocess.Popen(
            _in_view(d.argv),
            env={**os.environ, **d.env},
            cwd=d.cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=d.user,
            group=d.user,
        )
    d.pidfile.write_text(f"{proc.pid} {_start_time(proc.pid)} {d.stop_signal} {d.stop_grace}\n")
    log.info("started %s (pid %d)", d.name, proc.pid)
    return proc.pid


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def group_members(sid: int) -> list[int]:
    return [p for p in all_pids() if (f := _stat_fields(p)) and int(f[3]) == sid and f[0] not in ("Z", "X")]


def stop(*names: str) -> None:
    """Stop daemons and everything in their sessions, together; SIGKILL after their grace."""
    running = {n: pid for n in names if (pid := read_pid(n)) is not None}
    deadline = {}
    for name, pid in running.items():
        sig, grace = _stop_settings(name)
        _signal_group(pid, sig)
        deadline[name] = time.monotonic() + grace
    for name, pid in running.items():

        def gone(pid: int = pid) -> bool:
            return not group_members(pid)

        if not wait_for(gone, max(0.0, deadline[name] - time.monotonic())):
            # The OVS agent, for one, ignores SIGTERM for 20 s and more.
            log.info("%s did not stop in time: SIGKILL", name)
            _signal_group(pid, signal.SIGKILL)
            wait_for(gone, 10)
        _reap(pid)
    for name in names:
        (paths.RUN_DIR / f"{name}.pid").unlink(missing_ok=True)


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    """Poll `predicate` until it holds or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
    except OSError:
        return {}
    return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)


def kill(pids: Sequence[int]) -> None:
    """SIGKILL `pids` and wait until they are gone."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not any(pid_alive(p) for p in pids), 10)


def daemon_pids(run_dir: Path | None = None) -> dict[str, int]:
    """Running lab daemons by name, from the pidfiles in `run_dir` (default: this lab's)."""
    run_dir = run_dir or paths.RUN_DIR
    if not run_dir.exists():
        return {}
    names = [p.stem for p in run_dir.glob("*.pid")]
    return {n: pid for n in sorted(names) if (pid := read_pid(n, run_dir)) is not None}


# Programs the agents start that leave their session (dnsmasq and keepalived daemonize; the L3 agent's
# state-change monitor of an HA router is a /bin/sh script).
KEEPALIVED_PROGRAMS = ("keepalived", "neutron-keepalived-state-change")
_FORKED_PROGRAMS = {"dnsmasq", "haproxy", "privsep-helper", "udhcpc", "busybox", *KEEPALIVED_PROGRAMS}


def _process_table() -> dict[int, tuple[int, int]]:
    """Live processes: pid -> (parent pid, session id)."""
    table = {}
    for pid in all_pids():
        f = _stat_fields(pid)
        if f is not None and f[0] not in ("Z", "X"):
            table[pid] = (int(f[1]), int(f[3]))
    return table


def _with_descendants(roots: set[int], table: dict[int, tuple[int, int]]) -> list[int]:
    found = set(roots)
    while children := {pid for pid, (ppid, _) in table.items() if ppid in found} - found:
        found |= children
    return sorted(found)


def lab_processes(run_dir: Path | None = None) -> list[int]:
    """Every live process of the lab: the daemons' sessions, what they forked off, and children.

    Children count even when they left the session (postgres backends call setsid).
    """
    run_dir = run_dir or paths.RUN_DIR
    sids = set(daemon_pids(run_dir).values())
    lab_dir = str(run_dir.parent) + "/"
    table = _process_table()

    def forked_off(pid: int) -> bool:
        argv = cmdline(pid)
        programs = {os.path.basename(a) for a in argv[:2]}
        return bool(programs & _FORKED_PROGRAMS) and any(lab_dir in a for a in argv)

    roots = {pid for pid, (_, sid) in table.items() if sid in sids or forked_off(pid)}
    return _with_descendants(roots, table)


def kill_orphans(lab_dir: Path, *more: Path) -> list[int]:
    """SIGKILL what a vanished lab left running: processes naming `lab_dir` (or a dir of
    `more`) on their command line, with their sessions and children. Returns the pids killed."""
    prefixes = [str(d) + "/" for d in (lab_dir, *more)]
    table = _process_table()
    table.pop(os.getpid(), None)
    named = {pid for pid in table if any(prefix in a for a in cmdline(pid) for prefix in prefixes)}
    doomed = _with_descendants(named | {pid for pid, (_, sid) in table.items() if sid in named}, table)
    kill(doomed)
    return doomed


def memory_bytes(pids: Sequence[int]) -> dict[str, int]:
    """Sum of RSS (shared pages counted in every process) and of PSS (shared pages split)."""
    rss = pss = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1]) * 1024
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1]) * 1024
        except OSError:
            pass
    return {"rss": rss, "pss": pss}


def kill_strays() -> None:
    """SIGKILL lab processes left after their daemons stopped (dnsmasq, privsep)."""
    kill(lab_processes())


def run(argv: Sequence[str], check: bool = True, **kw: object) -> subprocess.CompletedProcess[str]:
    """Run a short command, capturing its output (raised with the error on failure)."""
    res = subprocess.run(_in_view(argv), capture_output=True, text=True, **kw)  # type: ignore[call-overload]
    if check and res.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({res.returncode}): {res.stderr.strip() or res.stdout.strip()}")
    return res
