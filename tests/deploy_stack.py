"""The dashboard as its systemd units run it (deploy/dashboard/), started here without systemd.

systemd is not PID 1 on these machines: each unit's ExecStart is read from its file, expanded as
systemd would (``${VAR}`` from the environment file, ``%%`` to ``%``, the install prefix
/opt/neutron-map to this checkout) and started as a process with the environment the unit would
have (the template deploy/dashboard/dashboard.env, overridden with this test's scratch paths).
nginx (deploy/nginx/neutron-map.conf) runs unprivileged under the test's own prefix.
"""

from __future__ import annotations

import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
UNITS = REPO / "deploy" / "dashboard"
NGINX_SITE = REPO / "deploy" / "nginx" / "neutron-map.conf"
PREFIX = "/opt/neutron-map"
SERVICES = ("neutron-map-web", "neutron-map-jobs", "neutron-map-graph", "neutron-map-beat")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def env_file(path: Path) -> dict[str, str]:
    """systemd's EnvironmentFile= format: KEY=VALUE lines, # comments."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def exec_start(unit: str, env: Mapping[str, str]) -> list[str]:
    """The unit's ExecStart as systemd would run it, from this checkout instead of /opt/neutron-map."""
    lines = (UNITS / f"{unit}.service").read_text().splitlines()
    (command,) = [line.removeprefix("ExecStart=") for line in lines if line.startswith("ExecStart=")]
    words = [
        re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], word).replace("%%", "%") for word in shlex.split(command)
    ]
    assert words[0].startswith(PREFIX + "/"), words[0]
    return [str(REPO) + words[0].removeprefix(PREFIX), *words[1:]]


def working_directory(unit: str) -> Path:
    text = (UNITS / f"{unit}.service").read_text()
    match = re.search(r"^WorkingDirectory=(.+)$", text, re.M)
    assert match and match.group(1) == PREFIX, "the units run from the install prefix"
    return REPO


def production_env(var_dir: Path, port: int, redis_url: str, **overrides: str) -> dict[str, str]:
    """The template environment file with this test's scratch database, Redis, port and state directory."""
    var_dir.mkdir(parents=True, exist_ok=True)
    key = var_dir / "secret-key"
    key.write_text("deploy-test-" + os.urandom(24).hex())
    values = env_file(UNITS / "dashboard.env")
    for name in ("OS_CLOUD", "OS_CLIENT_CONFIG_FILE", "DASHBOARD_METRICS_TOKEN_FILE"):
        values.pop(name)  # a real cloud's: the lab's clouds.yaml (LAB_DIR) stands in
    values |= {
        "DASHBOARD_PORT": str(port),
        "DASHBOARD_WEB_WORKERS": "2",
        "DASHBOARD_JOB_WORKERS": "1",
        "DASHBOARD_VAR_DIR": str(var_dir),
        "DJANGO_SECRET_KEY_FILE": str(key),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": f"sqlite:///{var_dir / 'db.sqlite3'}",
        "REDIS_URL": redis_url,
        **overrides,
    }
    # What systemd gives a unit, not this test process's settings (tests.settings, inline writer, key).
    base = {name: os.environ[name] for name in ("PATH", "LANG", "LAB_DIR", "HOME") if name in os.environ}
    return {**base, "DJANGO_SETTINGS_MODULE": "dashboard.settings", "PYTHONUNBUFFERED": "1", **values}


def manage(env: Mapping[str, str], *args: str, timeout: float = 300) -> str:
    """``manage.py`` as an operator runs it with the environment file (migrate, collectstatic, agent_token)."""
    done = subprocess.run(
        [str(REPO / ".venv" / "bin" / "python"), "manage.py", *args],
        cwd=REPO,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@dataclass
class Stack:
    env: dict[str, str]
    log_dir: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['DASHBOARD_PORT']}"

    def log(self, unit: str) -> str:
        return (self.log_dir / f"{unit}.log").read_text(errors="replace")

    def wait_log(self, unit: str, pattern: str, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.log(unit))
            if match:
                return match.group(0)
            assert self.procs[unit].poll() is None, f"{unit} exited: {self.log(unit)[-3000:]}"
            time.sleep(0.5)
        raise AssertionError(f"{unit}: no {pattern!r} in {timeout}s: {self.log(unit)[-3000:]}")

    def wait_count(self, unit: str, text: str, count: int, timeout: float = 120) -> int:
        """Until ``text`` is in the unit's log ``count`` times; returns how often it is there then."""
        deadline = time.monotonic() + timeout
        while self.log(unit).count(text) < count and time.monotonic() < deadline:
            time.sleep(0.5)
        return self.log(unit).count(text)


def stop(proc: subprocess.Popen[bytes], grace: float = 30) -> None:
    """SIGTERM, as systemctl stop sends it (KillMode=control-group: the whole group)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@contextmanager
def dashboard_units(env: dict[str, str], log_dir: Path) -> Iterator[Stack]:
    """The four units' processes, each in a process group of its own; yields once the web answers."""
    log_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(env, log_dir)
    try:
        for unit in SERVICES:
            with open(log_dir / f"{unit}.log", "ab") as out:
                stack.procs[unit] = subprocess.Popen(
                    exec_start(unit, env),
                    cwd=working_directory(unit),
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        stack.wait_log("neutron-map-web", r"Application startup complete|Started server process")
        wait_port(int(env["DASHBOARD_PORT"]), stack.procs["neutron-map-web"])
        yield stack
    finally:
        for proc in stack.procs.values():
            stop(proc)


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"exited with {proc.returncode}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


# --------------------------------------------------------------------------- TLS: openssl and nginx


@dataclass(frozen=True)
class Certificates:
    ca: Path
    cert: Path
    key: Path


def make_certificates(directory: Path) -> Certificates:
    """A test CA and a server certificate it signs for 127.0.0.1 and localhost (openssl)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = directory / "ca.pem", directory / "ca.key"
    cert, key, csr = directory / "server.pem", directory / "server.key", directory / "server.csr"
    ext = directory / "server.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca),
        "-days",
        "2",
        "-subj",
        "/CN=neutron-map test CA",
    )
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1")
    openssl(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-out",
        str(cert),
        "-days",
        "2",
        "-extfile",
        str(ext),
    )
    return Certificates(ca, cert, key)


def render_site(values: Mapping[str, str]) -> str:
    """deploy/nginx/neutron-map.conf with its ``{{NAME}}`` placeholders filled; every one must be given."""
    text = NGINX_SITE.read_text()
    rendered = re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], text)
    return rendered


def worker_temp_root() -> Path:
    """Where the worker buffers request bodies (an agent report is larger than its 16 kB memory buffer):
    nginx started by root runs its worker as `nobody`, which cannot enter pytest's 0700 tmp_path, so a
    directory of its own under /tmp, each temp path owned by the worker (removed by ``nginx``)."""
    root = Path(tempfile.mkdtemp(prefix="neutron-map-nginx-"))
    root.chmod(0o711)
    return root


def nginx_main_conf(prefix: Path, site: Path, temp_root: Path) -> str:
    """A main nginx.conf for an unprivileged nginx under ``prefix`` (pid, logs its own; temp paths under
    ``temp_root``, writable by the worker)."""
    worker = pwd.getpwnam("nobody")
    temp = {name: temp_root / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, worker.pw_uid, worker.pw_gid)
    return f"""daemon off;
worker_processes 1;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} info;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    access_log {prefix / "access.log"};
    client_body_temp_path {temp["client_body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    include {site};
}}
"""


@dataclass(frozen=True)
class Proxy:
    https_port: int
    http_port: int
    prefix: Path
    pid: int = 0

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"


@contextmanager
def nginx(prefix: Path, certs: Certificates, upstream_port: int, proxy: Proxy) -> Iterator[Proxy]:
    """nginx in front of the dashboard on 127.0.0.1 (https and the http redirect), as this process's child."""
    prefix.mkdir(parents=True, exist_ok=True)
    site = prefix / "neutron-map.conf"
    site.write_text(
        render_site(
            {
                "LISTEN_ADDRESS": "127.0.0.1",
                "HTTPS_PORT": str(proxy.https_port),
                "HTTP_PORT": str(proxy.http_port),
                "SERVER_NAME": "127.0.0.1 localhost",
                "CERTIFICATE": str(certs.cert),
                "CERTIFICATE_KEY": str(certs.key),
                "UPSTREAM": f"127.0.0.1:{upstream_port}",
            }
        )
    )
    main = prefix / "nginx.conf"
    temp_root = worker_temp_root()
    try:
        main.write_text(nginx_main_conf(prefix, site, temp_root))
        subprocess.run(["nginx", "-t", "-p", str(prefix), "-c", str(main)], check=True, capture_output=True, timeout=30)
        with open(prefix / "nginx.out", "ab") as out:
            proc = subprocess.Popen(
                ["nginx", "-p", str(prefix), "-c", str(main)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_port(proxy.https_port, proc)
            yield Proxy(proxy.https_port, proxy.http_port, prefix, proc.pid)
        finally:
            stop(proc, grace=10)
    finally:
        shutil.rmtree(temp_root, ignore_errors=True)


def listening_addresses(pid: int) -> set[str]:
    """The local addresses the processes of ``pid``'s group listen on (ss)."""
    out = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True, timeout=30).stdout
    children = subprocess.run(["pgrep", "-g", str(pid)], capture_output=True, text=True, timeout=30).stdout.split()
    pids = {str(pid), *children}
    found = set()
    for line in out.splitlines():
        if any(f"pid={p}," in line for p in pids):
            found.add(line.split()[3])
    return found
