"""PostgreSQL for Neutron: a private cluster under the lab dir, on 127.0.0.1:5433.

Neutron's agents write concurrently; SQLite gave "database is locked". Postgres
refuses to run as root, so the cluster belongs to the `postgres` user.
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

DATA_DIR = paths.RUN_DIR / "postgres"
SOCKET_DIR = paths.RUN_DIR / "postgres-socket"
OWNER = "postgres"


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
    for d in (DATA_DIR, SOCKET_DIR):
        d.mkdir(parents=True, exist_ok=True)
        shutil.chown(d, OWNER, OWNER)
    DATA_DIR.chmod(0o700)
    # Local socket (in a dir only root and postgres reach): trust; TCP: password.
    procs.run(_as_owner([pg_bin("initdb"), "-D", str(DATA_DIR), "-U", "postgres", "-E", "UTF8",
                         "--no-locale", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync"]))


def daemon() -> Daemon:
    return Daemon(
        name="postgres",
        argv=[
            pg_bin("postgres"), "-D", str(DATA_DIR),
            "-c", f"listen_addresses={HOST}", "-c", f"port={PORT}",
            "-c", f"unix_socket_directories={SOCKET_DIR}",
            "-c", "max_connections=300",
            # A throwaway lab database: durability buys nothing here.
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
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


def psql(sql: str, db: str = "postgres") -> str:
    return procs.run([pg_bin("psql"), "-h", str(SOCKET_DIR), "-p", str(PORT), "-U", "postgres",
                      "-d", db, "-tA", "-v", "ON_ERROR_STOP=1", "-c", sql]).stdout


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



