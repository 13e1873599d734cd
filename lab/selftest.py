"""Prove the lab works end to end, with timings: python -m lab.selftest [--down-at-end].

up -> the two pings of seed 000 -> up again (must be a quick no-op) ->
down (must leave nothing) -> up again -> pings. Leaves the lab up unless
--down-at-end. Prints a JSON report; exits 1 if any check failed.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

from lab import api

T = TypeVar("T")


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    t0 = time.monotonic()
    result = fn()
    return result, round(time.monotonic() - t0, 1)


def seed_pings(state: dict[str, Any]) -> dict[str, bool]:
    """Seed 000's checks: the VM reaches the LAN's gateway, the LAN reaches the floating IP."""
    fip = state["floating_ips"]["cirros-01"]["floating_ip_address"]
    return {
        "cirros-01 -> 192.168.1.1": api.ping("cirros-01", "192.168.1.1", timeout=60),
        f"outside -> {fip} (floating IP of cirros-01)": api.ping("outside", fip, timeout=60),
        "ubuntu-01 -> 10.0.0.1 (router1)": api.ping("ubuntu-01", "10.0.0.1", timeout=60),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--down-at-end", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    report: dict[str, Any] = {}
    state, report["up_s"] = timed(api.up)
    report["up_timings"] = state.get("timings")
    report["memory_mb"] = api.status()["memory_mb"]
    report["pings"] = seed_pings(state)
    _, report["up_again_noop_s"] = timed(api.up)
    report["down_s"] = round(api.down(), 1)
    report["leftovers_after_down"] = api.leftovers()
    state, report["up_after_down_s"] = timed(api.up)
    report["pings_after_down_up"] = seed_pings(state)
    if args.down_at_end:
        report["final_down_s"] = round(api.down(), 1)
        report["final_leftovers"] = api.leftovers()

    ok = (
        all(report["pings"].values())
        and all(report["pings_after_down_up"].values())
        and not report["leftovers_after_down"]
        and report["up_again_noop_s"] < 5
        and not report.get("final_leftovers")
    )
    report["ok"] = ok
    print(json.dumps(report, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
