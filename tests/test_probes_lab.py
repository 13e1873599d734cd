"""Probes on the real lab (allinone): a real agent process keeps its channel to a real daphne.

The agent of ``controller`` (tests/agent_feed.py: daphne on the test
database, the agent reporting and, now, holding /ws/agents/ open) answers
ofproto/trace on br-int and ip route get in the qrouter namespace; the
requests go through POST /api/v1/hosts/<host>/probes/ as the real admin,
demo and alt users (Keystone login).

The hanging probe is real too: a second agent (host ``hangnode``) runs with
OVS_RUNDIR pointing at a directory where this test holds a locked
ovs-vswitchd pidfile and a listening control socket that never answers, so
the real ovs-appctl blocks until the agent kills it at the probe's timeout
(a wedged ovs-vswitchd, without wedging the lab's).
"""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from lab import api as lab_api
from tests.agent_feed import HOST, REPO, agent_feed
from tests.conftest import ARTIFACTS
from tests.test_actions_lab import call, login, stop_worker
from tests.test_actions_lab import shared_broker_restored as shared_broker_restored  # autouse there, so here too
from topology.models import HostReport
from topology.probes.presence import is_connected
from topology.services import issue_agent_token

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]
OUTSIDE = "192.168.1.1"
LOGS = ARTIFACTS / "probes"


def probe(client: Client, host: str, body: dict[str, Any]) -> Any:
    return call(client, "POST", f"/hosts/{host}/probes/", body)


def wait_connected(host: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not is_connected(host):
        assert time.monotonic() < deadline, f"{host}'s agent never opened its probe channel (see {LOGS})"
        time.sleep(0.3)


@pytest.fixture
def feed(lab: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """daphne + controller's agent, channel open; yields controller's stored report (and the report URL)."""
    with agent_feed(settings.DATABASES["default"]["NAME"], LOGS) as url:
        wait_connected(HOST)
        yield {**HostReport.objects.get(host=HOST).report, "report_url": url}


def namespace(report: dict[str, Any], prefix: str) -> dict[str, Any]:
    return next(ns for ns in report["namespaces"] if ns["name"].startswith(prefix))


def br_int_port_of(report: dict[str, Any], mac: str) -> dict[str, Any]:
    bridge = next(b for b in report["ovs"]["bridges"] if b["name"] == "br-int")
    return next(i for p in bridge["ports"] for i in p["interfaces"] if i["external_ids"].get("attached-mac") == mac)


def vm_eth0(report: dict[str, Any], vm: str) -> dict[str, Any]:
    return next(i for i in namespace(report, vm)["interfaces"] if i["name"] == "eth0")


def test_ofproto_trace_of_a_vms_packet_leaves_br_int_by_the_other_vms_port(
    lab: dict[str, Any], feed: dict[str, Any]
) -> None:
    src, dst = vm_eth0(feed, "vm-ubuntu-01"), vm_eth0(feed, "vm-cirros-01")
    src_port, dst_port = br_int_port_of(feed, src["mac"]), br_int_port_of(feed, dst["mac"])
    dst_ip = dst["addresses"][0].split("/")[0]
    assert lab_api.ping("vm-ubuntu-01", dst_ip), "the two VMs must reach each other for br-int to learn the MACs"
    admin = login(lab, "admin")
    response = probe(
        admin,
        HOST,
        {
            "kind": "ofproto_trace",
            "args": {
                "bridge": "br-int",
                "in_port": src_port["name"],
                "dl_src": src["mac"],
                "dl_dst": dst["mac"],
                "proto": "icmp",
                "nw_src": src["addresses"][0].split("/")[0],
                "nw_dst": dst_ip,
                "icmp_type": 8,
            },
        },
    )
    assert response.status_code == 200, response.content[:800]
    result = response.json()["result"]
    assert result["ok"], result
    assert result["argv"][:3] == ["ovs-appctl", "ofproto/trace", "br-int"]
    trace = result["parsed"]
    assert trace["bridges"][0] == "br-int" and not trace["dropped"]
    assert [(o["bridge"], o["port"], o["ofport"]) for o in trace["outputs"]] == [
        ("br-int", dst_port["name"], dst_port["ofport"])
    ], result["output"]


def test_route_get_in_the_qrouter_namespace_goes_out_by_the_gateway_port(
    lab: dict[str, Any], feed: dict[str, Any]
) -> None:
    qrouter = namespace(feed, "qrouter-")
    gateway = [i["name"] for i in qrouter["interfaces"] if i["name"].startswith("qg-")]
    admin = login(lab, "admin")
    response = probe(admin, HOST, {"kind": "route_get", "args": {"namespace": qrouter["name"], "dst": OUTSIDE}})
    assert response.status_code == 200, response.content[:800]
    route = response.json()["result"]["parsed"]
    assert route["dst"] == OUTSIDE and route["dev"] in gateway and route["dev"].startswith("qg-")
    for kind, args in (("ip_rule", {}), ("route_table", {"table": "main"})):
        answer = probe(admin, HOST, {"kind": kind, "args": {"namespace": qrouter["name"], **args}}).json()
        assert answer["result"]["ok"], answer
    rules = probe(admin, HOST, {"kind": "ip_rule", "args": {"namespace": qrouter["name"]}}).json()
    assert {"main", "local"} <= {r["table"] for r in rules["result"]["parsed"]["rules"]}


def test_refused_before_the_agent_and_not_connected_at_once(lab: dict[str, Any], feed: dict[str, Any]) -> None:
    admin = login(lab, "admin")
    qrouter = namespace(feed, "qrouter-")["name"]
    hostile: list[dict[str, Any]] = [
        {"kind": "ofproto_trace", "args": {"bridge": "br-nope", "in_port": 1}},  # not in the report
        {"kind": "ofproto_trace", "args": {"bridge": "br-int;reboot", "in_port": 1}},
        {"kind": "ofproto_trace", "args": {"bridge": "br-int", "in_port": 70000}},
        {"kind": "route_get", "args": {"namespace": qrouter, "dst": "1.1.1.1 | id"}},
        {"kind": "route_get", "args": {"namespace": "n" * 400, "dst": OUTSIDE}},
    ]
    for body in hostile:
        response = probe(admin, HOST, body)
        assert response.status_code == 400, (body, response.content[:400])
    offline = "offline-node"
    HostReport.objects.create(
        host=offline,
        collected_at=timezone.now(),
        received_at=timezone.now(),
        size=1,
        report={**{k: v for k, v in feed.items() if k != "report_url"}, "host": offline},
    )
    response = probe(admin, offline, {"kind": "route_get", "args": {"namespace": qrouter, "dst": OUTSIDE}})
    assert response.status_code == 503 and response.json()["connected"] is False
    assert probe(admin, "no-such-host", {"kind": "ip_rule", "args": {}}).status_code == 404
    for user in ("demo", "alt"):
        response = probe(login(lab, user), HOST, {"kind": "route_get", "args": {"namespace": qrouter, "dst": OUTSIDE}})
        assert response.status_code == 403, (user, response.content[:300])


def wedged_vswitchd(directory: Path) -> tuple[Any, socket.socket]:
    """A locked ovs-vswitchd pidfile naming this process and its control socket, which never answers."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("ovs-vswitchd*"):
        stale.unlink()
    pidfile = open(directory / "ovs-vswitchd.pid", "w")  # noqa: SIM115 - held open (locked) for the test
    pidfile.write(f"{os.getpid()}\n")
    pidfile.flush()
    fcntl.lockf(pidfile, fcntl.LOCK_EX)
    control = socket.socket(socket.AF_UNIX)
    control.bind(str(directory / f"ovs-vswitchd.{os.getpid()}.ctl"))
    control.listen(16)  # connections complete in the backlog; nothing ever reads or answers
    return pidfile, control


def test_a_probe_that_hangs_is_answered_with_a_timeout(
    lab: dict[str, Any], feed: dict[str, Any], tmp_path: Path
) -> None:
    host = "hangnode"
    pidfile, control = wedged_vswitchd(tmp_path / "ovs-run")
    url = feed["report_url"]  # the feed's daphne
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{settings.DATABASES['default']['NAME']}",
        "OVS_RUNDIR": str(tmp_path / "ovs-run"),
    }
    with open(LOGS / "hangnode-agent.log", "ab") as out:
        agent = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "topology.agent",
                "--host",
                host,
                f"--token={issue_agent_token(host)}",
                "--interval",
                "600",
                "--url",
                url,
            ],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 60
        while not HostReport.objects.filter(host=host).exists():
            assert time.monotonic() < deadline and agent.poll() is None, "no report from hangnode"
            time.sleep(0.5)
        wait_connected(host)
        admin = login(lab, "admin")
        response = probe(
            admin, host, {"kind": "ofproto_trace", "timeout": 2, "args": {"bridge": "br-int", "in_port": 1}}
        )
        assert response.status_code == 504, response.content[:600]
        result = response.json()["result"]
        assert result["timed_out"] and result["exit_status"] is None and "did not answer within 2 s" in result["error"]
        # the agent is still there for the next probe
        answer = probe(admin, host, {"kind": "ip_rule", "args": {}})
        assert answer.status_code == 200 and answer.json()["result"]["ok"], answer.content[:300]
    finally:
        stop_worker(agent, grace=20)
        control.close()
        pidfile.close()
