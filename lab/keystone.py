"""Keystone: config, bootstrap, the gunicorn daemon, projects/users, clouds.yaml."""

from __future__ import annotations

import hashlib
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from lab import paths, procs, rest
from lab.procs import Daemon

log = logging.getLogger(__name__)

VENV = "keystone"
REGION = "RegionOne"
PUBLIC_URL = "http://127.0.0.1:5000/v3/"
NEUTRON_ENDPOINT = "http://127.0.0.1:9696"


@dataclass(frozen=True)
class Account:
    """A lab user with its own project (admin's is `admin`, neutron's `service`)."""

    username: str
    password: str
    project: str
    role: str


ADMIN = Account("admin", "admin-pass", "admin", "admin")
DEMO = Account("demo", "demo-pass", "demo", "member")
ALT = Account("alt", "alt-pass", "alt", "member")
# Neutron validates tokens with this user; it needs the `service` role (with
# only `member` Keystone answers 403 and every client sees a misleading 503).
NEUTRON_SERVICE = Account("neutron", "neutron-pass", "service", "service")

CLOUDS = {"lab-admin": ADMIN, "lab-demo": DEMO, "lab-alt": ALT}

DATA_DIR = paths.RUN_DIR / "keystone"
ETC_DIR = paths.ETC_DIR / "keystone"
CONF = ETC_DIR / "keystone.conf"


def write_config() -> None:
    ETC_DIR.mkdir(parents=True, exist_ok=True)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    CONF.write_text(f"""\
[DEFAULT]
use_stderr = true

[database]
connection = sqlite:///{DATA_DIR}/keystone.db

[token]
provider = fernet

[fernet_tokens]
key_repository = {DATA_DIR}/fernet-keys

[fernet_receipts]
key_repository = {DATA_DIR}/fernet-keys

[credential]
key_repository = {DATA_DIR}/credential-keys

[identity]
# Test-only: a cheap bcrypt keeps logins fast on two cores.
password_hash_rounds = 4
max_password_length = 72

[cache]
# Without a cache each token validation runs ~200 SQL queries.
enabled = true
backend = dogpile.cache.memory
""")
    # oslo.config parses sys.argv: gunicorn gets no arguments, all settings here.
    (ETC_DIR / "gunicorn.conf.py").write_text("""\
bind = "127.0.0.1:5000"
wsgi_app = "keystone.wsgi.api:application"
# One process: the in-memory cache is per process (a revoked token would
# still validate in a second one).
workers = 1
worker_class = "gthread"
threads = 4
control_socket_disable = True
timeout = 120
""")


def _manage(*args: str) -> None:
    procs.run([str(paths.venv_bin(VENV, "keystone-manage")), "--config-file", str(CONF), *args])


def bootstrap() -> None:
    """Create the database, key repositories and admin user (from the cache when it has them).

    Bootstrapping is four keystone-manage runs, ~10 s of imports on the
    critical path of `lab up`: its result is kept under the lab's cache dir,
    keyed by everything that shapes it, and copied in on the next up.
    """
    if (DATA_DIR / "keystone.db").exists():
        return
    cached = paths.CACHE_DIR / f"keystone-{_bootstrap_key()}"
    if cached.exists():
        shutil.copytree(cached, DATA_DIR, dirs_exist_ok=True)
        return
    _bootstrap()
    tmp = cached.with_name(cached.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(DATA_DIR, tmp)
    tmp.rename(cached)


def _bootstrap_key() -> str:
    marker = paths.VENVS_DIR / VENV / ".lab-installed"
    h = hashlib.sha256(CONF.read_bytes())
    h.update(repr(ADMIN).encode() + repr(REGION).encode() + PUBLIC_URL.encode())
    h.update(marker.read_bytes() if marker.exists() else b"")
    return h.hexdigest()[:16]


def _bootstrap() -> None:
    root = ("--keystone-user", "root", "--keystone-group", "root")
    _manage("db_sync")
    _manage("fernet_setup", *root)
    _manage("credential_setup", *root)
    _manage(
        "bootstrap",
        "--bootstrap-password",
        ADMIN.password,
        "--bootstrap-username",
        ADMIN.username,
        "--bootstrap-project-name",
        ADMIN.project,
        "--bootstrap-role-name",
        ADMIN.role,
        "--bootstrap-region-id",
        REGION,
        "--bootstrap-admin-url",
        PUBLIC_URL,
        "--bootstrap-internal-url",
        PUBLIC_URL,
        "--bootstrap-public-url",
        PUBLIC_URL,
    )


def daemon() -> Daemon:
    return Daemon(
        name="keystone",
        argv=[str(paths.venv_bin(VENV, "gunicorn"))],
        env={"OS_KEYSTONE_CONFIG_FILES": str(CONF)},
        cwd=ETC_DIR,
    )


def healthy() -> bool:
    return rest.status_of(PUBLIC_URL) == 200


def start() -> None:
    # Bootstrapping while a server runs deletes its database under it.
    if healthy():
        return
    write_config()
    bootstrap()
    procs.start(daemon())
    if not procs.wait_for(healthy, 60):
        raise RuntimeError(f"keystone did not answer; see {daemon().logfile}")


def stop() -> None:
    procs.stop("keystone")


class Admin:
    """Admin operations on Keystone's REST API (idempotent: find before create)."""

    def __init__(self) -> None:
        self.c = rest.Client.login(rest.KEYSTONE_URL, ADMIN.username, ADMIN.password, ADMIN.project)

    def _find(self, collection: str, name: str) -> str | None:
        items = self.c.get(f"/{collection}?name={name}")[collection]
        return items[0]["id"] if items else None

    def ensure(self, collection: str, body: dict[str, object]) -> str:
        found = self._find(collection, str(body["name"]))
        if found:
            return found
        singular = collection[:-1]
        return str(self.c.post(f"/{collection}", {singular: body})[singular]["id"])

    def ensure_account(self, a: Account) -> None:
        project = self.ensure("projects", {"name": a.project, "domain_id": "default"})
        user = self.ensure(
            "users", {"name": a.username, "password": a.password, "domain_id": "default", "default_project_id": project}
        )
        role = self.ensure("roles", {"name": a.role})
        self.c.put(f"/projects/{project}/users/{user}/roles/{role}", {})

    def ensure_network_service(self) -> None:
        service = self.ensure("services", {"name": "neutron", "type": "network", "enabled": True})
        existing = self.c.get(f"/endpoints?service_id={service}")["endpoints"]
        have = {e["interface"] for e in existing}
        for interface in ("public", "internal", "admin"):
            if interface not in have:
                self.c.post(
                    "/endpoints",
                    {
                        "endpoint": {
                            "service_id": service,
                            "interface": interface,
                            "url": NEUTRON_ENDPOINT,
                            "region_id": REGION,
                        }
                    },
                )


def create_accounts() -> None:
    admin = Admin()
    for a in (DEMO, ALT, NEUTRON_SERVICE):
        admin.ensure_account(a)
    admin.ensure_network_service()


def clouds_yaml() -> str:
    """clouds.yaml text (hand-written YAML: the lab has no yaml dependency)."""
    lines = ["clouds:"]
    for cloud, a in CLOUDS.items():
        lines += [
            f"  {cloud}:",
            "    auth:",
            f"      auth_url: {rest.KEYSTONE_URL}",
            f"      username: {a.username}",
            f"      password: {a.password}",
            f"      project_name: {a.project}",
            "      user_domain_name: Default",
            "      project_domain_name: Default",
            f"    region_name: {REGION}",
            "    interface: public",
            "    identity_api_version: 3",
        ]
    return "\n".join(lines) + "\n"


def write_clouds_yaml(path: Path = paths.CLOUDS_YAML) -> Path:
    path.write_text(clouds_yaml())
    path.chmod(0o644)
    return path


def project_ids() -> dict[str, str]:
    c = Admin().c
    return {p["name"]: p["id"] for p in c.get("/projects")["projects"]}
