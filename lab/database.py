"""PostgreSQL for Neutron: a private cluster of the lab, on 127.0.0.1:5433.

Neutron's agents write concurrently; SQLite gave "database is locked". Postgres
refuses to run as root, so the cluster belongs to the `postgres` user, and
its data and socket live in paths.SHARED_DIR, which `postgres` can reach
whatever the checkout's path (under /root, say); its pidfile and log stay
under the lab dir (written by root).
"""

from __future__ import annotations

import glob
import shutil
import signal
import socket

from lab import paths, procs
from lab.procs import Daemon

HOST = "127.0.0.1"
PORT = 5433
DB_NAME = "neutron"
DB_USER = "neutron"
DB_PASSWORD = "neutron-db-pass"
URL = f"postgresql+psycopg2://{DB_USER}:{DB_PASSWORD}@{HOST}:{PORT}/{DB_NAME}"

DATA_DIR = paths.SHARED_DIR / "postgres"
SOCKET_DIR = paths.SHARED_DIR / "postgres-socket"
OWNER = "postgres"
SOCKET_OPTION = "unix_socket_directories="


def pg_bin(program: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{program}"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed (lab.install installs it)")
    return found[-1]


def _as_owner(argv: list[str]) -> list[str]:
    return ["runuser", "-u", OWNER, "--", *argv]


def init_cluster() -> None:
    if (DATA_DIR / "PG_VERSION").exists():
        return
    paths.ensure_shared_dir()
    for d in (DATA_DIR, SOCKET_DIR):
        d.mkdir(exist_ok=True)
        shutil.chown(d, OWNER, OWNER)
        d.chmod(0o700)
    # Local socket (in a dir only root and postgres reach): trust; TCP: password.
    procs.run(
        _as_owner(
            [
                pg_bin("initdb"),
                "-D",
                str(DATA_DIR),
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-locale",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--no-sync",
            ]
        ),
        cwd=DATA_DIR,
    )  # not the caller's: the checkout may be out of postgres' reach


def daemon() -> Daemon:
    return Daemon(
        name="postgres",
        argv=[
            pg_bin("postgres"),
            "-D",
            str(DATA_DIR),
            "-c",
            f"listen_addresses={HOST}",
            "-c",
            f"port={PORT}",
            "-c",
            f"{SOCKET_OPTION}{SOCKET_DIR}",
            "-c",
            "max_connections=300",
            # A throwaway lab database: durability buys nothing here.
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ],
        user=OWNER,
        cwd=DATA_DIR,
        stop_signal=signal.SIGINT,  # "fast" shutdown; SIGTERM waits for clients
    )


def accepting() -> bool:
    try:
        with socket.create_connection((HOST, PORT), timeout=1):
            return True
    except OSError:
        return False


def socket_dir() -> str:
    """Where the running server has its socket: SOCKET_DIR, or the run dir for a lab
    started before the data moved to SHARED_DIR (it keeps running until its `down`)."""
    pid = procs.read_pid("postgres")
    for arg in procs.cmdline(pid) if pid is not None else []:
        if arg.startswith(SOCKET_OPTION):
            return arg.removeprefix(SOCKET_OPTION)
    return str(SOCKET_DIR)


def psql(sql: str, db: str = "postgres") -> str:
    return procs.run(
        [
            pg_bin("psql"),
            "-h",
            socket_dir(),
            "-p",
            str(PORT),
            "-U",
            "postgres",
            "-d",
            db,
            "-tA",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ]
    ).stdout


def create_database() -> None:
    if psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'").strip():
        return
    psql(f"CREATE ROLE {DB_USER} LOGIN PASSWORD '{DB_PASSWORD}'")
    psql(f"CREATE DATABASE {DB_NAME} OWNER {DB_USER}")


def start() -> None:
    init_cluster()
    procs.start(daemon())
    if not procs.wait_for(lambda: accepting() and _ready(), 60):
        raise RuntimeError(f"postgres did not start; see {daemon().logfile}")
    create_database()


def _ready() -> bool:
    return procs.run([pg_bin("pg_isready"), "-h", HOST, "-p", str(PORT)], check=False).returncode == 0


def stop() -> None:
    procs.stop("postgres")


def remove() -> None:
    """The cluster's data and socket directories (after stop())."""
    paths.remove_shared_dir()
