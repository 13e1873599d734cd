"""How long confirming each job kind takes on the lab (issue 23): p50/p95 over a few runs.

    flock /tmp/neutron-lab.lock .venv/bin/python -m bench.confirm [RUNS]     (needs the lab, allinone)

Each kind's action runs as demo (no Celery: the action and tasks/confirm.py
are called in this process), on a router and network of the bench's own,
ubuntu-01's port for the floating IP and demo's default group for the
rules (put back at the end). A real node agent reports into the bench's
own database (tests/agent_feed.py). Printed per kind: the confirmation's
wall time (Neutron re-read + waiting for the agent's report) and the part
spent waiting for the data plane, and the states the jobs ended in.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DB = REPO / "var" / "bench-confirm.sqlite3"
os.environ["DATABASE_URL"] = f"sqlite:///{DB}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

import django  # noqa: E402

django.setup()

import openstack  # noqa: E402
from django.core.management import call_command  # noqa: E402

from lab import api  # noqa: E402
from tasks.actions import ACTIONS  # noqa: E402
from tasks.confirm import confirm  # noqa: E402
from tasks.models import Job, JobKind  # noqa: E402
from tests.agent_feed import agent_feed  # noqa: E402

Sample = tuple[float, float, str]  # wall seconds, data-plane seconds, end state


def run_kind(
    conn: openstack.connection.Connection,
    kind: str,
    target: str,
    params: dict[str, object],
    samples: dict[str, list[Sample]],
) -> dict[str, object]:
    job = Job.objects.create(
        kind=kind, user_id="bench", user_name="bench", project_id="bench", target=target, params=params
    )
    result = ACTIONS[kind](conn, job, lambda pct, msg: None)
    started = time.monotonic()
    done = confirm(conn, job, result, lambda pct, msg: None)
    wall = time.monotonic() - started
    samples.setdefault(kind, []).append((wall, float(done.result["observed"]["seconds"]), done.state))
    if done.state != "succeeded":
        print(f"  {kind}: {done.state}: {done.message}", file=sys.stderr)
    return done.result


def cycle(
    conn: openstack.connection.Connection,
    state: dict[str, object],
    router: str,
    subnet: str,
    samples: dict[str, list[Sample]],
) -> None:
    public = state["networks"]["public"]  # type: ignore[index]
    ubuntu = state["vms"]["ubuntu-01"]["port_id"]  # type: ignore[index]
    group = state["security_groups"]["demo:default"]  # type: ignore[index]
    run_kind(conn, JobKind.INTERFACE_ADD, router, {"subnet_id": subnet}, samples)
    run_kind(conn, JobKind.GATEWAY_SET, router, {"network_id": public}, samples)
    fip = str(run_kind(conn, JobKind.FIP_ALLOCATE, str(public), {}, samples)["floating_ip_id"])
    try:
        run_kind(conn, JobKind.FIP_ASSOCIATE, fip, {"port_id": ubuntu, "fixed_ip": None}, samples)
        run_kind(conn, JobKind.FIP_DISASSOCIATE, fip, {}, samples)
        run_kind(conn, JobKind.FIP_RELEASE, fip, {}, samples)
    finally:
        conn.network.delete_ip(fip, ignore_missing=True)
    run_kind(conn, JobKind.GATEWAY_CLEAR, router, {}, samples)
    run_kind(conn, JobKind.INTERFACE_REMOVE, router, {"subnet_id": subnet}, samples)
    try:
        run_kind(conn, JobKind.SECGROUP_CLOSE, str(group), {}, samples)
    finally:
        run_kind(conn, JobKind.SECGROUP_OPEN, str(group), {}, samples)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(runs: int) -> None:
    DB.unlink(missing_ok=True)
    call_command("migrate", verbosity=0)
    state = api.read_state()
    os.environ["OS_CLIENT_CONFIG_FILE"] = str(state["clouds_yaml"])
    conn = openstack.connect(cloud="lab-demo")
    samples: dict[str, list[Sample]] = {}
    router = conn.network.create_router(name="bench-confirm-router")
    net = conn.network.create_network(name="bench-confirm-net")
    try:
        subnet = conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.79.0.0/24").id
        with agent_feed(str(DB), REPO / "artifacts" / "bench-confirm"):
            for i in range(runs):
                print(f"run {i + 1}/{runs}", file=sys.stderr)
                cycle(conn, state, router.id, subnet, samples)
    finally:
        for port in conn.network.ports(device_id=router.id):
            if port.device_owner != "network:router_gateway":
                conn.network.remove_interface_from_router(router.id, port=port.id)
        conn.network.delete_router(router.id, ignore_missing=True)
        conn.network.delete_network(net.id, ignore_missing=True)
    print(f"{'kind':34} {'n':>2} {'p50 s':>6} {'p95 s':>6} {'dp p50':>6} {'dp p95':>6}  states")
    for kind in JobKind.ALL:
        if kind not in samples:
            continue
        walls, waits = [s[0] for s in samples[kind]], [s[1] for s in samples[kind]]
        states = ", ".join(
            f"{s} {n}"
            for s, n in sorted(
                {st: [x[2] for x in samples[kind]].count(st) for st in {x[2] for x in samples[kind]}}.items()
            )
        )
        print(
            f"{kind:34} {len(walls):>2} {statistics.median(walls):6.2f} {percentile(walls, 0.95):6.2f} "
            f"{statistics.median(waits):6.2f} {percentile(waits, 0.95):6.2f}  {states}"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
