"""How long ``GET /api/v1/path/?...&verify=1`` takes end to end on the lab (issue 16): p50/p95.

    flock /tmp/neutron-lab.lock .venv/bin/python -m bench.verify [RUNS]     (needs the lab, allinone)
    flock /tmp/neutron-lab.lock .venv/bin/python -m bench.verify --scenario dvr [RUNS]   (switches the lab to dvr)

The request goes through the real PathView as the real admin (Keystone login), in this process;
the probes go over Redis and the channel layer to a real daphne and the real node agent of
``controller`` (tests/agent_feed.py), which runs ofproto/trace, ip route get and ip neigh and
answers. Per walk of tests/test_path_lab.py, the path without verify, with verify=1 sending its
probes one at a time (WORKERS=1) and with verify=1 sending up to 4 at once (WORKERS=4, the default)
are asked in turn (interleaved A/B, the same graph revision), RUNS times each; printed: p50/p95 of
each, the probes each verify sent, and its agree / disagree / not checked counts.

``--scenario dvr``: the two-host DVR lab, the node agents of ``controller`` and ``compute2`` (each in its
host's view, tests/agent_feed.py's lab_agents_feed), the walks of tests/test_path_verify_dvr_lab.py; the
hops counted are the walk's and its reply's (DVR east-west and SNAT are walked back, and verified, too).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
from tests.agent_feed import HOST, agent_feed, lab_agents_feed  # noqa: E402
from tests.lab_jobs import login  # noqa: E402
from tests.test_path_verify_dvr_lab import HOSTS as DVR_HOSTS  # noqa: E402
from tests.test_path_verify_dvr_lab import pings as dvr_pings  # noqa: E402
from tests.test_path_verify_dvr_lab import walks as dvr_walks  # noqa: E402
from tests.test_topology_dvr import joined  # noqa: E402
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


@contextmanager
def allinone(state: dict[str, Any]) -> Iterator[dict[str, tuple[str, str]]]:
    assert api.ping("ubuntu-01", OUTSIDE) and api.ping("outside", state["vms"]["cirros-01"]["floating_ip"])
    with agent_feed(str(DB), REPO / "artifacts" / "bench-verify"):
        wait_connected(HOST)
        refresh_all(str(state["host"]))
        yield walks(state)


@contextmanager
def dvr(state: dict[str, Any]) -> Iterator[dict[str, tuple[str, str]]]:
    for sender, target in dvr_pings(state).values():
        assert api.ping(sender, target, timeout=120), (sender, target)
    tunnel_ips = {h: str(state["hosts"][h]["tunnel_ip"]) for h in DVR_HOSTS}
    with lab_agents_feed(str(DB), REPO / "artifacts" / "bench-verify-dvr", tunnel_ips):
        for host in DVR_HOSTS:
            wait_connected(host)
        joined(state)
        yield {name: (src, dst) for name, (src, dst, _) in dvr_walks(state).items()}


def wait_connected(host: str) -> None:
    deadline = time.monotonic() + 60
    while not is_connected(host):
        assert time.monotonic() < deadline, f"{host}'s agent never opened its channel"
        time.sleep(0.3)


def lab_in(scenario: str) -> dict[str, Any]:
    state = api.read_state()
    if state.get("status") != "up" or state.get("scenario") != scenario:
        api.up(scenario)
    return dict(api.status())


def main(runs: int, scenario: str) -> None:
    DB.unlink(missing_ok=True)
    call_command("migrate", verbosity=0)
    state = lab_in(scenario)
    with (dvr if scenario == "dvr" else allinone)(state) as paths:
        admin = login(state, "admin")
        columns = f"{'plain p50/p95':>14}  {'1 at once':>14}  {'4 at once':>14}"
        print(f"{'walk':26} {'hops':>4} {'probes':>6}  {columns}  checks")
        for name, (src, dst) in paths.items():
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
            hops = len(body["hops"]) + len(body.get("return_hops") or [])
            print(
                f"{name:26} {hops:>4} {v['probes_sent']:>6}  {ms(plain):>14}  {ms(serial):>14}  "
                f"{ms(parallel):>14}  {v['agree']} agree, {v['disagree']} disagree, {v['not_checked']} not checked"
            )


def ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.0f} / {percentile(samples, 0.95) * 1000:.0f} ms"


def arguments(argv: list[str]) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="bench.verify")
    parser.add_argument("runs", nargs="?", type=int, default=20)
    parser.add_argument("--scenario", choices=("allinone", "dvr"), default="allinone")
    args = parser.parse_args(argv)
    return int(args.runs), str(args.scenario)


if __name__ == "__main__":
    main(*arguments(sys.argv[1:]))
