"""Install what the lab needs: Debian packages and two pinned virtualenvs.

Keystone and Neutron each get a virtualenv of their own (different pins from
each other and from the dashboard's). Installs are pinned with the
constraints files committed under lab/constraints/ and skipped when a marker
in the venv records the same inputs, so a warm `lab up` pays nothing here.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from lab import paths

log = logging.getLogger(__name__)

# What the agents and services need. Without ipset the OVS agent fails on
# VIF processing and VM ports stay DOWN; busybox gives the VMs udhcpc; haproxy is
# the metadata proxy the L3 and DHCP agents start in their namespaces (lab/metadata.py); keepalived runs
# VRRP for HA routers (scenario ha), and Neutron's neutron-keepalived-state-change (a /bin/sh script)
# tells the L3 agent with curl over a unix socket.
APT_PACKAGES = (
    "openvswitch-switch",
    "rabbitmq-server",
    "postgresql",
    "dnsmasq-base",
    "dnsmasq-utils",
    "ipset",
    "ethtool",
    "iputils-arping",
    "iputils-ping",
    "conntrack",
    "iptables",
    "iproute2",
    "busybox",
    "haproxy",
    "radvd",
    "procps",
    "keepalived",
    "curl",
)

POLICY_RC_D = Path("/usr/sbin/policy-rc.d")


@dataclass(frozen=True)
class Venv:
    name: str
    requirements: tuple[str, ...]

    @property
    def path(self) -> Path:
        return paths.VENVS_DIR / self.name

    @property
    def constraints(self) -> Path:
        return paths.CONSTRAINTS_DIR / f"{self.name}.txt"


KEYSTONE_VENV = Venv("keystone", ("keystone", "gunicorn"))
# Neutron 29 has no neutron-server: the API runs under uwsgi (pyuwsgi wheel).
NEUTRON_VENV = Venv("neutron", ("neutron", "pyuwsgi", "psycopg2-binary"))
VENVS = (KEYSTONE_VENV, NEUTRON_VENV)


def missing_apt_packages(packages: tuple[str, ...] = APT_PACKAGES) -> list[str]:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${Status}\n", *packages],
        capture_output=True,
        text=True,
    ).stdout
    installed = {line.split()[0] for line in out.splitlines() if line.endswith("install ok installed")}
    return [p for p in packages if p not in installed]


def install_apt_packages() -> None:
    missing = missing_apt_packages()
    if not missing:
        return
    log.info("apt-get install %s", " ".join(missing))
    # The lab starts every daemon itself, on loopback: forbid the packages'
    # maintainer scripts from starting the system services (RabbitMQ would
    # otherwise listen on every interface).
    made_policy = not POLICY_RC_D.exists()
    if made_policy:
        POLICY_RC_D.write_text("#!/bin/sh\nexit 101\n")
        POLICY_RC_D.chmod(0o755)
    try:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]
        if subprocess.run(cmd, env=env).returncode != 0:
            # Usually "unable to locate package": the lists were never fetched.
            subprocess.run(["apt-get", "update", "-q"], env=env, check=True)
            subprocess.run(cmd, env=env, check=True)
    finally:
        if made_policy:
            POLICY_RC_D.unlink()


def base_python() -> str:
    """The interpreter behind whatever venv we run in (venvs of venvs are fragile)."""
    v = sys.version_info
    candidate = Path(sys.base_prefix) / "bin" / f"python{v.major}.{v.minor}"
    return str(candidate if candidate.exists() else sys.executable)


def _marker_digest(venv: Venv) -> str:
    h = hashlib.sha256()
    h.update(" ".join(venv.requirements).encode())
    h.update(sys.version.encode())
    if venv.constraints.exists():
        h.update(venv.constraints.read_bytes())
    return h.hexdigest()


def _marker(venv: Venv) -> Path:
    return venv.path / ".lab-installed"


def venv_is_current(venv: Venv) -> bool:
    m = _marker(venv)
    return m.exists() and m.read_text().strip() == _marker_digest(venv)


def install_venv(venv: Venv) -> None:
    if venv_is_current(venv):
        return
    log.info("installing virtualenv %s", venv.path)
    subprocess.run([base_python(), "-m", "venv", "--clear", str(venv.path)], check=True)
    pip = [str(venv.path / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "-U", "pip"], check=True)
    if venv.constraints.exists():
        subprocess.run([*pip, "-c", str(venv.constraints), *venv.requirements], check=True)
    else:
        # First install ever: resolve freely, then pin what we got.
        subprocess.run([*pip, *venv.requirements], check=True)
        freeze_constraints(venv)
    _marker(venv).write_text(_marker_digest(venv) + "\n")


def freeze_constraints(venv: Venv) -> None:
    out = subprocess.run(
        [str(venv.path / "bin" / "python"), "-m", "pip", "freeze", "--exclude-editable"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    paths.CONSTRAINTS_DIR.mkdir(parents=True, exist_ok=True)
    venv.constraints.write_text(out)


def install() -> None:
    paths.ensure_dirs()
    install_apt_packages()
    for venv in VENVS:
        install_venv(venv)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    install()
