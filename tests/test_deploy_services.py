"""The dashboard as services (issue 21 item 5): the units' own command lines, not bin/run.

The four units of deploy/dashboard/ (uvicorn with two workers, the jobs worker, the graph writer,
beat) run from their ExecStart lines with the template environment file, a scratch SQLite
database made by ``manage.py migrate`` and ``collectstatic`` as an operator runs them, and a Redis
of the test's own. They serve: a static file from WhiteNoise (content-hashed, cached a year,
gzip), the agents' report API (202, then applied by the graph writer), the agents' websocket; the
jobs worker answers a ping and beat sends its schedule. The scheme is taken from
X-Forwarded-Proto only when the proxy's address sends it. systemd itself is not PID 1 here: the
units are checked by ``systemd-analyze verify``, not started by systemd.
"""

from __future__ import annotations

import gzip
import http.client
import json
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.deploy_stack import (
    REPO,
    SERVICES,
    UNITS,
    Stack,
    dashboard_units,
    exec_start,
    free_port,
    manage,
    production_env,
)
from tests.redis_server import started_redis
from topology.agent.collect import collect_report

PROXY_HEADERS = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "192.0.2.7"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("deploy-services")
    with started_redis(root / "redis") as redis:
        env = production_env(root / "var", free_port(), redis.url)
        manage(env, "migrate", "--noinput", "-v", "0")
        manage(env, "collectstatic", "--noinput", "-v", "0")
        with dashboard_units(env, root / "logs") as running:
            yield running


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def request(
    stack: Stack,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    source: str = "127.0.0.1",
) -> Answer:
    """One HTTP request to the web unit from ``source`` (a loopback address: 127.0.0.1 is the proxy's)."""
    port = int(stack.env["DASHBOARD_PORT"])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=(source, 0))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        headers_seen: dict[str, str] = {}
        for name, value in response.getheaders():  # repeated ones (Set-Cookie) one per line
            headers_seen[name.lower()] = "\n".join(filter(None, (headers_seen.get(name.lower()), value)))
        return Answer(response.status, headers_seen, response.read())
    finally:
        conn.close()


def test_the_units_verify() -> None:
    """``systemd-analyze verify`` on every unit, their executables pointed at this checkout's."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    units = [UNITS / f"{name}.service" for name in SERVICES] + [UNITS / "neutron-map.target"]
    copies = []
    scratch = Path(REPO / "var" / "deploy-units-verify")
    scratch.mkdir(parents=True, exist_ok=True)
    for unit in units:
        copy = scratch / unit.name
        copy.write_text(unit.read_text().replace("/opt/neutron-map/.venv", str(REPO / ".venv")))
        copies.append(str(copy))
    done = subprocess.run(["systemd-analyze", "verify", *copies], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    # Nothing but the executables' path was changed: the rest is what verify read.
    assert "is not executable" not in done.stderr and "Unknown" not in done.stderr, done.stderr


def test_the_units_run_the_production_commands() -> None:
    env = {
        "DASHBOARD_BIND": "127.0.0.1",
        "DASHBOARD_PORT": "8001",
        "DASHBOARD_WEB_WORKERS": "4",
        "DASHBOARD_TRUSTED_PROXIES": "127.0.0.1",
        "DASHBOARD_JOB_WORKERS": "2",
        "DASHBOARD_VAR_DIR": "/v",
    }
    web = exec_start("neutron-map-web", env)
    assert web[0].endswith("/.venv/bin/uvicorn") and "--workers" in web and web[web.index("--workers") + 1] == "4"
    assert web[web.index("--forwarded-allow-ips") + 1] == "127.0.0.1"
    graph = exec_start("neutron-map-graph", env)
    assert graph[graph.index("--concurrency") + 1] == "1" and "solo" in graph and "graph@%h" in graph
    assert "beat" in exec_start("neutron-map-beat", env)
    assert "jobs@%h" in exec_start("neutron-map-jobs", env)


def test_uvicorn_runs_its_workers(stack: Stack) -> None:
    workers = int(stack.env["DASHBOARD_WEB_WORKERS"])
    assert workers == 2
    assert stack.wait_count("neutron-map-web", "Started server process", workers) == workers, stack.log(
        "neutron-map-web"
    )
    assert stack.log("neutron-map-web").count("Started parent process") == 1


def test_a_static_file_comes_from_whitenoise_hashed_cached_and_compressed(stack: Stack) -> None:
    manifest = json.loads((Path(stack.env["DASHBOARD_VAR_DIR"]) / "static" / "staticfiles.json").read_text())
    hashed = manifest["paths"]["js/base.js"]
    assert hashed != "js/base.js"
    response = request(stack, "GET", f"/static/{hashed}", {**PROXY_HEADERS, "Accept-Encoding": "gzip"})
    assert response.status == 200
    assert response.headers["cache-control"] == "max-age=315360000, public, immutable"
    assert response.headers.get("content-encoding") == "gzip"
    original = (REPO / "static" / "js" / "base.js").read_bytes()
    assert gzip.decompress(response.body) == original


def test_the_login_page_links_the_hashed_static_files(stack: Stack) -> None:
    response = request(stack, "GET", "/login/", PROXY_HEADERS)
    assert response.status == 200
    page = response.body.decode()
    assert "/static/css/" in page and ".css" in page
    assert response.headers["strict-transport-security"] == "max-age=31536000"
    cookie = response.headers.get("set-cookie", "")
    assert "csrftoken=" in cookie and "Secure" in cookie


def test_x_forwarded_proto_counts_only_from_the_proxy(stack: Stack) -> None:
    """127.0.0.2 is not DASHBOARD_TRUSTED_PROXIES: its X-Forwarded-Proto is ignored, so http is redirected."""
    spoofed = request(stack, "GET", "/login/", PROXY_HEADERS, source="127.0.0.2")
    assert spoofed.status == 301
    assert spoofed.headers["location"] == f"https://127.0.0.1:{stack.env['DASHBOARD_PORT']}/login/"
    assert request(stack, "GET", "/login/", PROXY_HEADERS).status == 200
    assert request(stack, "GET", "/login/").status == 301  # the proxy's own plain http too


def test_an_agent_report_is_accepted_and_the_graph_writer_applies_it(stack: Stack) -> None:
    token = manage(stack.env, "agent_token", "deploy-node").strip().split()[-1]
    body = json.dumps(collect_report("deploy-node")).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", **PROXY_HEADERS}
    response = request(stack, "POST", "/api/v1/agents/report/", headers, body)
    assert response.status == 202, response.body
    assert json.loads(response.body)["host"] == "deploy-node"
    # Answered at once (queue mode); the graph writer's process joins it into the graph.
    check = "from topology.models import GraphState; s = GraphState.objects.filter(id=1).first(); "
    check += "print('shown:', any(n['id'] == 'host:deploy-node' for n in (s.graph['nodes'] if s else [])))"
    deadline = time.monotonic() + 120
    while "shown: True" not in manage(stack.env, "shell", "-c", check):
        assert time.monotonic() < deadline, stack.log("neutron-map-graph")[-3000:]
        time.sleep(1)
    assert re.search(r"graph\.apply_reports\[[^\]]+\] succeeded", stack.log("neutron-map-graph"))


def test_the_agents_websocket_takes_a_host_token_and_refuses_others(stack: Stack) -> None:
    token = manage(stack.env, "agent_token", "deploy-ws").strip().split()[-1]
    url = f"ws://127.0.0.1:{stack.env['DASHBOARD_PORT']}/ws/agents/"
    with connect(url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=30) as ws:
        ws.send(json.dumps({"type": "ping"}))
        assert ws.ping().wait(30)  # the socket stays open after the consumer handled the message
    # Closed before accepting: the ASGI server answers the handshake 403.
    with pytest.raises(InvalidStatus) as refused:
        connect(url, additional_headers={"Authorization": "Bearer wrong"}, open_timeout=30)
    assert refused.value.response.status_code == 403


def test_the_jobs_worker_answers_and_beat_sends_its_schedule(stack: Stack) -> None:
    host = socket.gethostname()
    stack.wait_log("neutron-map-jobs", r"jobs@\S+ ready")
    pong = subprocess.run(
        [
            str(REPO / ".venv" / "bin" / "celery"),
            "-A",
            "dashboard",
            "inspect",
            "ping",
            "-d",
            f"jobs@{host}",
            "-t",
            "20",
        ],
        cwd=REPO,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert pong.returncode == 0 and "pong" in pong.stdout, pong.stdout + pong.stderr
    stack.wait_log("neutron-map-beat", r"Sending due task graph-sweep")
    stack.wait_log("neutron-map-beat", r"Sending due task refresh-cloud")
