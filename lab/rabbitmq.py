"""RabbitMQ for Neutron's RPC, on 127.0.0.1 only, with its state under the lab dir.

The Debian wrapper would switch to the rabbitmq user and its home; the lab
runs the server script as root with HOME in the lab dir, so the Erlang
cookie and Mnesia live there too. epmd is started first, bound to loopback
and on a port of the lab's own (4370, not 4369), so the server does not spawn
one listening on every interface and no other Erlang program's epmd is in
the way.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence

from lab import paths, procs
from lab.procs import Daemon

HOST = "127.0.0.1"
PORT = 5672
TRANSPORT_URL = f"rabbit://guest:guest@{HOST}:{PORT}/"
# Neutron's notifications (oslo.messaging, lab/neutron.py) go to a vhost of their own, with
# an account of their own: the dashboard's listener (topology/notifications/) reads them
# there and never sees the RPC traffic of the default vhost.
NOTIFICATIONS_VHOST = "notifications"
NOTIFICATIONS_USER = "neutron-map"
NOTIFICATIONS_PASSWORD = "neutron-map"  # loopback only, like guest's
NOTIFICATIONS_URL = f"rabbit://{NOTIFICATIONS_USER}:{NOTIFICATIONS_PASSWORD}@{HOST}:{PORT}/{NOTIFICATIONS_VHOST}"
# oslo.messaging keeps a default queue (notifications.info) that fills when nothing reads it: capped.
NOTIFICATIONS_POLICY = '{"max-length": 1000, "overflow": "drop-head"}'
EPMD_PORT = 4370
SBIN = "/usr/lib/rabbitmq/bin"

DATA_DIR = paths.RUN_DIR / "rabbitmq"
ETC_DIR = paths.ETC_DIR / "rabbitmq"
# Erlang distribution (server and each CLI call) listens on loopback only.
_DIST_LOOPBACK = "-kernel inet_dist_use_interface {127,0,0,1}"


def env() -> dict[str, str]:
    return {
        "HOME": str(DATA_DIR),
        "RABBITMQ_NODENAME": "lab@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": HOST,
        "RABBITMQ_NODE_PORT": str(PORT),
        "RABBITMQ_DIST_PORT": "25672",
        "ERL_EPMD_ADDRESS": HOST,
        "ERL_EPMD_PORT": str(EPMD_PORT),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": _DIST_LOOPBACK,
        "RABBITMQ_CTL_ERL_ARGS": _DIST_LOOPBACK,
        "RABBITMQ_MNESIA_BASE": str(DATA_DIR / "mnesia"),
        "RABBITMQ_LOG_BASE": str(paths.LOG_DIR / "rabbitmq"),
        "RABBITMQ_PID_FILE": str(DATA_DIR / "rabbitmq.pid"),
        "RABBITMQ_CONF_ENV_FILE": str(ETC_DIR / "rabbitmq-env.conf"),
        "RABBITMQ_CONFIG_FILE": str(ETC_DIR / "rabbitmq.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(ETC_DIR / "enabled_plugins"),
    }


def write_config() -> None:
    ETC_DIR.mkdir(parents=True, exist_ok=True)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    (ETC_DIR / "rabbitmq-env.conf").write_text("")
    (ETC_DIR / "enabled_plugins").write_text("[].\n")
    (ETC_DIR / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = {HOST}:{PORT}\nlog.console = true\nlog.file = false\n"
    )


def daemons() -> list[Daemon]:
    return [
        Daemon(name="epmd", argv=["epmd", "-address", HOST, "-port", str(EPMD_PORT)], env=env()),
        Daemon(name="rabbitmq", argv=[f"{SBIN}/rabbitmq-server"], env=env(), cwd=DATA_DIR, stop_grace=20),
    ]


def accepting() -> bool:
    try:
        with socket.create_connection((HOST, PORT), timeout=1):
            return True
    except OSError:
        return False


def _epmd_accepting() -> bool:
    try:
        with socket.create_connection((HOST, EPMD_PORT), timeout=1):
            return True
    except OSError:
        return False


def stray_epmds() -> list[int]:
    """epmd processes on the lab's port that the lab did not start.

    An Erlang VM or CLI that finds no epmd starts `epmd -daemon` itself (port
    from ERL_EPMD_PORT); if it wins the port, the lab's own epmd exits.
    """
    ours = procs.read_pid("epmd")
    port = str(EPMD_PORT)
    strays = []
    for pid in procs.all_pids():
        argv = procs.cmdline(pid)
        if pid == ours or not argv or os.path.basename(argv[0]) != "epmd":
            continue
        if port in argv or procs.environ(pid).get("ERL_EPMD_PORT") == port:
            strays.append(pid)
    return strays


def start() -> None:
    write_config()
    procs.kill(stray_epmds())
    epmd, server = daemons()
    procs.start(epmd)
    # The server must find epmd listening, or it spawns one of its own.
    if not procs.wait_for(_epmd_accepting, 10):
        raise RuntimeError(f"epmd did not listen on {HOST}:{EPMD_PORT}; see {epmd.logfile}")
    procs.start(server)
    if not procs.wait_for(accepting, 90, interval=0.5):
        raise RuntimeError(f"rabbitmq did not start; see {paths.LOG_DIR / 'rabbitmq.log'}")
    ensure_notifications_account()


def rabbitmqctl(*args: str) -> str:
    return procs.run([f"{SBIN}/rabbitmqctl", *args], env={**os.environ, **env()}).stdout


def ensure_notifications_account() -> None:
    """The notifications' vhost, its account and the cap on its queues (idempotent)."""
    vhosts = rabbitmqctl("list_vhosts", "-q", "--no-table-headers").split()
    if NOTIFICATIONS_VHOST not in vhosts:
        rabbitmqctl("add_vhost", NOTIFICATIONS_VHOST)
    users = [line.split()[0] for line in rabbitmqctl("list_users", "-q", "--no-table-headers").splitlines() if line]
    if NOTIFICATIONS_USER not in users:
        rabbitmqctl("add_user", NOTIFICATIONS_USER, NOTIFICATIONS_PASSWORD)
    rabbitmqctl("set_permissions", "-p", NOTIFICATIONS_VHOST, NOTIFICATIONS_USER, ".*", ".*", ".*")
    rabbitmqctl(
        "set_policy",
        "-p",
        NOTIFICATIONS_VHOST,
        "--apply-to",
        "queues",
        "capped",
        "^notifications\\.",
        NOTIFICATIONS_POLICY,
    )


def queue_consumers() -> dict[str, int]:
    out = rabbitmqctl("list_queues", "-q", "--no-table-headers", "name", "consumers")
    result = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            result[parts[0]] = int(parts[1])
    return result


def queues_consumed(names: Sequence[str]) -> bool:
    try:
        consumers = queue_consumers()
    except RuntimeError:
        return False
    return all(consumers.get(n, 0) > 0 for n in names)


def stop() -> None:
    procs.stop("rabbitmq")
    procs.stop("epmd")  # after the server: it unregisters from epmd on the way out
    procs.kill(stray_epmds())
