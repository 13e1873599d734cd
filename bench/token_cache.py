"""A Keystone token validated by one web process, then used on a second: the second's first request.

    LAB_DIR=/work/main/var/lab flock /tmp/neutron-lab.lock \\
        .venv/bin/python -m bench.token_cache --rounds 5 --before /work/main

Needs the lab's Keystone (hold the lab lock). Each round, per side (the order alternating): a fresh token of
the lab's ``demo`` (password login), two fresh daphne processes of that side's code on one scratch SQLite
database, ``GET /api/v1/status/`` with the token on the first (it validates the token with Keystone), then
on the second: its first request with the same token (timed), and a second one (warm). A: this checkout
(the validation kept in Redis, dashboard/tokencache.py: the second process finds it); B: the code of
``--before`` (each process its own cache: the second asks Keystone again, after logging its service
account in). Prints each request and the medians.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DB = REPO / "var" / "bench-token.sqlite3"
ENV = {
    "DATABASE_URL": f"sqlite:///{DB}",
    "DJANGO_SETTINGS_MODULE": "dashboard.settings",
    "DJANGO_SECRET_KEY_FILE": str(REPO / "var" / "secret-key"),  # one installation: one key
    "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6"),
    "DASHBOARD_GRAPH_WRITER": "inline",
}


def demo_token() -> str:
    """A fresh token of the lab's demo user (openstacksdk, the lab's clouds.yaml)."""
    import openstack.connection
    from openstack.config import loader

    from lab import paths

    config = loader.OpenStackConfig(config_files=[str(paths.CLOUDS_YAML)], load_envvars=False)
    return str(openstack.connection.Connection(config=config.get_one(cloud="lab-demo")).auth_token)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    """As tests/browser.py waits (which this process cannot import: it runs no Django of its own)."""
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
def daphne(checkout: Path, log: Path) -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "dashboard.asgi:application"]
    with open(log, "ab") as out:
        proc = subprocess.Popen(command, cwd=checkout, env={**os.environ, **ENV}, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/login/", proc, timeout=120)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def status(url: str, token: str) -> float:
    request = urllib.request.Request(url + "/api/v1/status/", headers={"X-Auth-Token": token})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        response.read()
        assert response.status == 200, response.status
    return time.perf_counter() - started


def one_round(checkout: Path) -> tuple[float, float, float]:
    """(first process's first request, second process's first, second process's second), seconds."""
    token = demo_token()
    log = REPO / "var" / "bench-token-daphne.log"
    with ExitStack() as stack:
        first_url = stack.enter_context(daphne(checkout, log))
        second_url = stack.enter_context(daphne(checkout, log))
        validated = status(first_url, token)
        second_first = status(second_url, token)
        second_warm = status(second_url, token)
    return validated, second_first, second_warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--before", type=Path, required=True, help="B: this checkout's code (e.g. /work/main)")
    args = parser.parse_args()
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, check=True, env={**os.environ, **ENV})
    sides = {"A shared (this branch)": REPO, f"B per process ({args.before})": args.before}
    seen: dict[str, list[tuple[float, float, float]]] = {name: [] for name in sides}
    for round_no in range(args.rounds):
        order = list(sides) if round_no % 2 == 0 else list(reversed(sides))
        for name in order:
            took = one_round(sides[name])
            seen[name].append(took)
            print(
                f"round {round_no + 1} {name}: first process {took[0] * 1000:.0f} ms, "
                f"second process first {took[1] * 1000:.0f} ms, then {took[2] * 1000:.0f} ms",
                flush=True,
            )
    for name, runs in seen.items():
        first, second, warm = ([run[i] * 1000 for run in runs] for i in range(3))
        print(
            f"{name}: second process's first request median {statistics.median(second):.0f} ms "
            f"(min {min(second):.0f}, max {max(second):.0f}); first process's {statistics.median(first):.0f} ms; "
            f"warm {statistics.median(warm):.0f} ms; {len(runs)} rounds"
        )
    a, b = (statistics.median(run[1] for run in runs) for runs in seen.values())
    print(f"second process's first request B/A: {b / a:.1f}x")


if __name__ == "__main__":
    main()
