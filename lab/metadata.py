"""Metadata (169.254.169.254) the way Neutron serves it, in the lab: the L3 agent's metadata proxy
(haproxy in each qrouter namespace, behind the REDIRECT of 169.254.169.254:80 to 9697), the DHCP
agent's isolated metadata (haproxy on 169.254.169.254:80 in the qdhcp namespace of a network
without a router), Neutron's metadata agent behind their unix socket, and a stand-in for Nova's
metadata API on 127.0.0.1 (there is no Nova here: scripts/nova_metadata.py checks Neutron's
X-Instance-ID-Signature with the shared secret and answers a few keys, as Nova would).

lab/neutron.py puts `metadata_options()` in the agents' files and these daemons among its agents,
so every `lab up` starts them; `ensure()` turns them on in a lab that a checkout without them
started (its L3 and DHCP agents restarted once, with the proxy enabled).
"""

from __future__ import annotations

import logging
import secrets
import sys
from pathlib import Path

from lab import paths, procs
from lab.procs import Daemon

log = logging.getLogger(__name__)

VENV = "neutron"
NOVA_METADATA_PORT = 8775  # nova-api-metadata's port; the stand-in listens there on 127.0.0.1
METADATA_PORT = 9697  # the L3 agent's haproxy in qrouter (Neutron's default metadata_port)
AGENT_TYPE = "Metadata agent"
AGENT_NAME = "neutron-metadata-agent"
NOVA_NAME = "nova-metadata-standin"
NOVA_SCRIPT = Path(__file__).parent / "scripts" / "nova_metadata.py"


def etc_dir() -> Path:
    return paths.ETC_DIR / "neutron"


def agent_conf_path() -> Path:
    return etc_dir() / "metadata_agent.ini"


def secret_path() -> Path:
    return etc_dir() / "metadata-secret"


def shared_secret() -> str:
    """metadata_proxy_shared_secret of this lab: made once per lab (rewritten configs keep it)."""
    path = secret_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(16) + "\n")
        path.chmod(0o600)
    return path.read_text().strip()


def l3_options() -> str:
    """The L3 agent's part: haproxy per router namespace, the REDIRECT to it."""
    return f"enable_metadata_proxy = True\nmetadata_port = {METADATA_PORT}\n"


def dhcp_options() -> str:
    """The DHCP agent's part: a network without a router gets 169.254.169.254 in its qdhcp namespace."""
    return "enable_isolated_metadata = True\nforce_metadata = False\n"


def agent_conf() -> str:
    return f"""\
[DEFAULT]
# There is no Nova: scripts/nova_metadata.py stands in for its metadata API on loopback.
nova_metadata_host = 127.0.0.1
nova_metadata_port = {NOVA_METADATA_PORT}
nova_metadata_protocol = http
metadata_proxy_shared_secret = {shared_secret()}
metadata_workers = 1

[cache]
enabled = False
"""


def config_files() -> dict[Path, str]:
    return {agent_conf_path(): agent_conf()}


def daemons(neutron_conf: Path, state_path: Path) -> list[Daemon]:
    """The stand-in first (the agent proxies to it), then Neutron's metadata agent."""
    return [
        Daemon(
            NOVA_NAME,
            [sys.executable, "-P", str(NOVA_SCRIPT), str(NOVA_METADATA_PORT), str(secret_path())],
            stop_grace=2.0,
        ),
        Daemon(
            AGENT_NAME,
            [
                str(paths.venv_bin(VENV, AGENT_NAME)),
                "--config-file",
                str(neutron_conf),
                "--config-file",
                str(agent_conf_path()),
            ],
            cwd=state_path,
            stop_grace=3.0,
        ),
    ]


def ensure() -> None:
    """The metadata path on in the running lab (host 1): configs written, the L3 and DHCP agents
    restarted when theirs changed, the metadata agent and the stand-in started, the agent alive.
    Idempotent: a lab already serving metadata is left alone."""
    from lab import keystone, neutron  # neutron imports this module

    changed = neutron.write_metadata_config()
    admin = neutron.client(keystone.ADMIN)
    since = neutron.now_utc()
    restart = [d for d in neutron.agent_daemons() if d.name in changed or procs.read_pid(d.name) is None]
    procs.stop(*(d.name for d in restart))
    for d in restart:
        log.info("starting %s (metadata)", d.name)
        procs.start(d)
    types = tuple(t for d, t in neutron.AGENT_OF_DAEMON.items() if d in {r.name for r in restart})
    if types:
        neutron.wait_agents_alive(admin, types=types, started_after=since)
