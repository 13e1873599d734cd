"""How long ``GET /api/v1/path/?...&verify=1`` takes end to end on the lab (issue 16): p50/p95.

    flock /tmp/neutron-lab.lock .venv/bin/python -m bench.verify [RUNS]     (needs the lab, allinone)

The request goes through the real PathView as the real admin (Keystone login), in this process;
the probes go over Redis and the channel layer to a real daphne and the real node agent of
``controller`` (tests/agent_feed.py), which runs ofproto/trace, ip route get and ip neigh and
answers. Per walk of tests/test_path_lab.py, the path without verify, with verify=1 sending its
probes one at a time (WORKERS=1) and with verify=1 sending up to 4 at once (WORKERS=4, the default)
are asked in turn (interleaved A/B, the same graph revision), RUNS times each; printed: p50/p95 of
each, the probes each verify sent, and its agree / disagree / not checked counts.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DB = REPO / "var" / "bench-verify.sqlite3"
os.environ["DATABASE_URL"] = f"sqlite:///{DB}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from lab import api  # noqa: E402
from tests.agent_feed import HOST, agent_feed  # noqa: E402
from tests.lab_jobs import login  # noqa: E402
from tests.test_topology_lab import refresh_all  # noqa: E402
from topology.probes import verify  # noqa: E402
from topology.probes.presence import is_connected  # noqa: E402

OUTSIDE = "192.168.1.1"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def walks(state: dict[str, Any]) -> dict[str, tuple[str, str]]:
    def server(vm: str) -> str:
        return f"server:{state['vms'][vm]['server_id']}"

    return {
        "same-network": (server("cirros-01"), server("ubuntu-01")),
        "snat": (server("ubuntu-01"), OUTSIDE),
        "fip-out": (server("cirros-01"), OUTSIDE),
        "inbound-fip": (OUTSIDE, state["vms"]["cirros-01"]["floating_ip"]),
    }


def timed(client: Client, params: dict[str, str]) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = client.get("/api/v1/path/", params)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.content[:400]
    return elapsed, response.json()


def main(runs: int) -> None:
    DB.unlink(missing_ok=True)
    call_command("migrate", verbosity=0)
    state = api.read_state()
    assert api.ping("ubuntu-01", OUTSIDE) and api.ping("outside", state["vms"]["cirros-01"]["floating_ip"])
    with agent_feed(str(DB), REPO / "artifacts" / "bench-verify"):
        deadline = time.monotonic() + 60
        while not is_connected(HOST):
            assert time.monotonic() < deadline, "the agent never opened its channel"
            time.sleep(0.3)
        refresh_all(str(state["host"]))
        admin = login(state, "admin")
        columns = f"{'plain p50/p95':>14}  {'1 at once':>14}  {'4 at once':>14}"
        print(f"{'walk':14} {'hops':>4} {'probes':>6}  {columns}  checks")
        for name, (src, dst) in walks(state).items():
            plain: list[float] = []
            serial: list[float] = []
            parallel: list[float] = []
            body: dict[str, Any] = {}
            for _ in range(runs):  # interleaved: plain, 1 at once, 4 at once, plain, ...
                plain.append(timed(admin, {"src": src, "dst": dst})[0])
                for workers, samples in ((1, serial), (4, parallel)):
                    verify.WORKERS = workers
                    elapsed, body = timed(admin, {"src": src, "dst": dst, "verify": "1"})
                    samples.append(elapsed)
            v = body["verify"]
            print(
                f"{name:14} {len(body['hops']):>4} {v['probes_sent']:>6}  {ms(plain):>14}  {ms(serial):>14}  "
                f"{ms(parallel):>14}  {v['agree']} agree, {v['disagree']} disagree, {v['not_checked']} not checked"
            )


def ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.0f} / {percentile(samples, 0.95) * 1000:.0f} ms"


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
