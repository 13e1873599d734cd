"""The lab from a checkout under a directory only root can enter (root's home is 0700 on Debian).

The lab's daemons that leave root must reach what they read by path. Each is run
here as the lab runs it, for a throwaway LAB_DIR under a fresh 0700 directory, on
ports and in a namespace of its own: the shared lab is not touched.

* PostgreSQL (user postgres): the lab's real start code (`lab.database.start`) in a
  subprocess with LAB_DIR set, on a free port instead of 5433; then a password login
  over TCP, the lab's stop and removal, and nothing may be left.
* dnsmasq (drops to nobody): with the flags Neutron's DHCP agent gives it and the
  lab's dnsmasq.conf, it must read its hosts file at start and on reload (SIGHUP).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import database, install, neutron, paths, procs
from tests.conftest import REPO, free_port

SCRIPT = """
import sys
from lab import database
database.PORT = int(sys.argv[2])  # its own port: 5433 is the shared lab's
if sys.argv[1] == "start":
    database.start()
else:
    database.stop()
    database.remove()
"""


def needs_root_and_packages() -> None:
    if os.geteuid() != 0:
        pytest.skip("the lab runs as root")
    # On a fresh machine this runs before any lab test has installed the lab's packages.
    install.install_apt_packages()


@pytest.fixture
def closed_checkout(tmp_path: Path) -> Path:
    """LAB_DIR of a checkout under a 0700 directory owned by root."""
    home = tmp_path / "root-home"
    home.mkdir(mode=0o700)
    home.chmod(0o700)
    lab_dir = home / "neutron-map" / "var" / "lab"
    lab_dir.mkdir(parents=True)
    # The condition of the finding: postgres and nobody cannot even look inside.
    for user in ("postgres", "nobody"):
        assert subprocess.run(["runuser", "-u", user, "--", "test", "-x", str(lab_dir)]).returncode == 1
    return lab_dir


def lab_python(lab_dir: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """The lab's code run as `lab up` runs it: from inside the checkout, with its LAB_DIR."""
    checkout = lab_dir.parents[1]
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, *argv],
        cwd=checkout,
        env={**os.environ, "LAB_DIR": str(lab_dir), "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def naming(*dirs: Path) -> list[int]:
    prefixes = [f"{d}/" for d in dirs]
    return [pid for pid in procs.all_pids() if any(p in a for a in procs.cmdline(pid) for p in prefixes)]


def accepting(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_postgres_starts_from_a_checkout_only_root_can_enter_and_leaves_nothing(closed_checkout: Path) -> None:
    needs_root_and_packages()
    lab_dir, port = closed_checkout, free_port()
    shared = paths.shared_dir(lab_dir)
    assert not shared.exists()
    try:
        started = lab_python(lab_dir, "start", str(port))
        assert started.returncode == 0, started.stderr[-3000:]
        server_log = (lab_dir / "log" / "postgres.log").read_text()
        assert "database system is ready to accept connections" in server_log
        assert "Permission denied" not in server_log, server_log
        assert (shared / "postgres" / "PG_VERSION").exists()
        # A real login as Neutron's user, with its password, over TCP.
        login = subprocess.run(
            [
                database.pg_bin("psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                database.DB_USER,
                "-d",
                database.DB_NAME,
                "-tA",
                "-c",
                "SELECT current_user, current_database()",
            ],
            env={**os.environ, "PGPASSWORD": database.DB_PASSWORD},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert login.returncode == 0, login.stderr
        assert login.stdout.strip() == f"{database.DB_USER}|{database.DB_NAME}"
    finally:
        stopped = lab_python(lab_dir, "stop", str(port))
    assert stopped.returncode == 0, stopped.stderr[-3000:]
    assert not accepting(port)
    assert naming(lab_dir, shared) == []
    assert not shared.exists()
    assert list((lab_dir / "run").glob("*.pid")) == []


def dnsmasq_argv(files: Path, conf: str) -> list[str]:
    """What Neutron's DHCP agent runs (neutron/agent/linux/dhcp.py), on a test range; no DNS."""
    return [
        "dnsmasq",
        "--keep-in-foreground",
        "--log-facility=-",
        "--port=0",
        "--no-hosts",
        "--no-resolv",
        f"--pid-file={files / 'pid'}",
        f"--dhcp-hostsfile={files / 'host'}",
        f"--addn-hosts={files / 'addn_hosts'}",
        f"--dhcp-optsfile={files / 'opts'}",
        f"--dhcp-leasefile={files / 'leases'}",
        "--dhcp-match=set:ipxe,175",
        "--local-service",
        "--bind-dynamic",
        "--dhcp-range=set:subnet-test,10.249.9.0,static,255.255.255.0,86400s",
        f"--conf-file={conf}",
    ]


@pytest.fixture
def namespace() -> Iterator[str]:
    name = f"labfirst{os.getpid() % 100000:05d}"  # not a lab namespace name (lab.netns.LAB_NAMESPACE)
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def run_dnsmasq(ns: str, files: Path, conf: str) -> tuple[str, str]:
    """(user it ran as, its log) after a start and one reload, as the DHCP agent reloads it."""
    proc = subprocess.Popen(
        ["ip", "netns", "exec", ns, *dnsmasq_argv(files, conf)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert procs.wait_for(lambda: (files / "pid").exists() and (files / "pid").read_text().strip() != "", 10)
        pid = int((files / "pid").read_text())
        user = subprocess.run(["ps", "-o", "user=", "-p", str(pid)], capture_output=True, text=True).stdout.strip()
        os.kill(pid, signal.SIGHUP)
        time.sleep(1)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    (files / "pid").unlink(missing_ok=True)
    return user, out


def test_dnsmasq_reads_its_hosts_file_from_a_checkout_only_root_can_enter(
    closed_checkout: Path, namespace: str
) -> None:
    needs_root_and_packages()
    files = closed_checkout / "run" / "neutron" / "dhcp" / "net"
    files.mkdir(parents=True)
    (files / "host").write_text("fa:16:3e:00:00:01,host-10-249-9-5.openstacklocal,10.249.9.5\n")
    for name in ("addn_hosts", "opts"):
        (files / name).write_text("")
    # The DHCP agent gives dnsmasq the lab's configuration (lab/neutron.py writes both files).
    assert f"dnsmasq_config_file = {neutron.DNSMASQ_CONF}\n" in neutron.DHCP_AGENT
    conf = closed_checkout / "etc" / "neutron" / neutron.DNSMASQ_CONF.name
    conf.parent.mkdir(parents=True)
    conf.write_text(neutron.DNSMASQ)

    # Without the lab's configuration: the failure of the finding (no hosts file, no leases).
    user, log = run_dnsmasq(namespace, files, "/dev/null")
    assert user == "nobody" and f"cannot read {files / 'host'}: Permission denied" in log, log

    user, log = run_dnsmasq(namespace, files, str(conf))
    assert user == "root", log
    assert log.count(f"read {files / 'host'}") == 2, log  # at start and on the reload
    assert "Permission denied" not in log, log
