"""Last in the run: `lab down` leaves nothing behind, and `lab up` works again after it.

Named test_zz_* so that pytest runs it after every other test that uses the lab.
"""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest

pytestmark = pytest.mark.lab

NEUTRON_DEVICE = re.compile(r"^(tap|qbr|qvb|qvo|qr-|qg-|sg-|fg-|rfp-|fpr-|ha-)[0-9a-f]")


def run(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=False).stdout


def lab_processes() -> list[str]:
    out = run("ps", "-eo", "pid,args")
    patterns = (
        "neutron-",
        "keystone",
        "uwsgi",
        "rabbitmq",
        "beam.smp",
        "epmd",
        "ovsdb-server",
        "ovs-vswitchd",
        "dnsmasq",
        "udhcpc",
        "var/lab",
    )
    return [line for line in out.splitlines()[1:] if any(p in line for p in patterns) and "pytest" not in line]


def test_lab_down_leaves_nothing_and_up_works_again(lab: dict[str, Any]) -> None:
    from lab import api, paths

    api.down()
    assert run("ip", "netns", "list").strip() == ""
    links = json.loads(run("ip", "-j", "link", "show") or "[]")
    assert [link["ifname"] for link in links if NEUTRON_DEVICE.match(link["ifname"])] == []
    assert not any(link["ifname"] in ("br-int", "br-tun", "br-ex", "ex-outside") for link in links)
    assert lab_processes() == []
    assert "neutron" not in run("iptables-save") and "neutron" not in run("ipset", "list", "-n")
    assert not paths.STATE_FILE.exists() and not paths.CLOUDS_YAML.exists()
    assert api.leftovers() == []

    state = api.up("allinone")
    assert state["status"] == "up"
    assert api.ping("outside", state["vms"]["cirros-01"]["floating_ip"], timeout=120)
    # and up again is a no-op: the same lab, not a new one
    assert api.up("allinone")["up_at"] == state["up_at"]
