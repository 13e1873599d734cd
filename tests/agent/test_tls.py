"""The agent over https: a CA bundle (ca_file) verifies the dashboard's certificate, the system's CAs
refuse a self-signed one, verify = false accepts it. A real TLS server on loopback with a certificate
made here by openssl."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.agent.conftest import needs_root
from tests.agent.test_cli_and_send import PYTHON, REPO, Recorder
from topology.agent.send import SendFailed, Target, post_report, tls_context


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "dashboard.pem", tmp_path / "dashboard.key"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def https_dashboard(certificate: tuple[Path, Path]) -> Iterator[str]:
    Recorder.answers, Recorder.received = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://localhost:{server.server_address[1]}/api/v1/agents/report/"
    server.shutdown()
    server.server_close()


def test_the_ca_bundle_verifies_the_dashboard(https_dashboard: str, certificate: tuple[Path, Path]) -> None:
    cert, _key = certificate
    target = Target(https_dashboard, "tok", ssl_context=tls_context(cert, verify=True))
    assert post_report({"version": 1}, target, attempts=1)["revision"] == 1
    assert Recorder.received[0][0]["Authorization"] == "Bearer tok"


def test_the_system_cas_refuse_a_self_signed_dashboard(https_dashboard: str) -> None:
    with pytest.raises(SendFailed, match="CERTIFICATE_VERIFY_FAILED"):
        post_report({}, Target(https_dashboard, "tok", ssl_context=tls_context(None, verify=True)), attempts=1)
    assert Recorder.received == []


def test_verify_false_takes_any_certificate(https_dashboard: str) -> None:
    assert post_report({}, Target(https_dashboard, "t", ssl_context=tls_context(None, verify=False)), attempts=1)


def test_the_cli_takes_its_ca_file(https_dashboard: str, certificate: tuple[Path, Path], tmp_path: Path) -> None:
    needs_root()
    cert, _key = certificate
    (tmp_path / "netns").mkdir()
    conf = tmp_path / "agent.conf"
    netns = tmp_path / "netns"
    conf.write_text(f"[agent]\nurl = {https_dashboard}\nhost = agt-tls\novsdb = none\nnetns_dir = {netns}\n")
    env = {**os.environ, "NEUTRON_MAP_AGENT_TOKEN": "tok"}

    def run(**extra: str) -> subprocess.CompletedProcess[str]:
        argv = [PYTHON, "-m", "topology.agent", "--once", "--config", str(conf)]
        return subprocess.run(argv, cwd=REPO, env={**env, **extra}, capture_output=True, text=True, timeout=120)

    refused = run()  # the system's CAs: 5 attempts, then exit 3
    assert refused.returncode == 3 and "CERTIFICATE_VERIFY_FAILED" in refused.stderr, refused.stderr
    assert Recorder.received == []
    accepted = run(NEUTRON_MAP_AGENT_CA_FILE=str(cert))
    assert accepted.returncode == 0, accepted.stderr
    assert len(Recorder.received) == 1
