"""The agent's settings: /etc/neutron-map/agent.conf (ini), the environment, then the command line.

Each setting is taken from the first of: its command-line option, its environment
variable ``NEUTRON_MAP_AGENT_<KEY>`` (``NEUTRON_MAP_AGENT_URL``...), the ``[agent]``
section of the configuration file, its default. The file is
``NEUTRON_MAP_AGENT_CONFIG`` or ``--config`` if given (then it must exist), else
/etc/neutron-map/agent.conf when it exists. The host name defaults to Neutron's own
``host`` option (``[DEFAULT] host`` in /etc/neutron/neutron.conf, what its agents
report as) and else the machine's hostname, so the report joins Neutron's bindings.
"""

from __future__ import annotations

import configparser
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from topology.agent import ovn_trace
from topology.agent.collect import DEFAULT_NETNS_DIR
from topology.agent.ovs import DEFAULT_REMOTE
from topology.agent.send import DEFAULT_URL

DEFAULT_CONFIG = Path("/etc/neutron-map/agent.conf")
CONFIG_ENV = "NEUTRON_MAP_AGENT_CONFIG"
ENV_PREFIX = "NEUTRON_MAP_AGENT_"
SECTION = "agent"
NEUTRON_CONF = Path("/etc/neutron/neutron.conf")
TOKEN_ENVS = ("NEUTRON_MAP_AGENT_TOKEN", "TOPOLOGY_AGENT_TOKEN")  # the second: the name before the wheel


class ConfigError(Exception):
    """A setting has a value the agent cannot use; the message names it and where it came from."""


def _boolean(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {text!r} (true/false, yes/no, on/off, 1/0)")


def _optional_text(text: str) -> str | None:
    return text.strip() or None


def _ovn_remote(text: str) -> str | None:
    """A southbound remote ovn-trace may use (unix: or tcp:, comma separated), or None."""
    value = text.strip()
    if value and not ovn_trace.valid_remote(value):
        raise ValueError("a unix:/path or tcp:host:port remote (several: comma separated); ssl: is not supported")
    return value or None


def _optional_path(text: str) -> Path | None:
    return Path(text.strip()) if text.strip() else None


@dataclass(frozen=True)
class Option:
    key: str
    parse: Callable[[str], Any]
    default: Any
    help: str


OPTIONS: tuple[Option, ...] = (
    Option("url", str.strip, DEFAULT_URL, "the dashboard's report endpoint"),
    Option("host", _optional_text, None, "host name to report as (Neutron's `host`, else the hostname)"),
    Option("token_file", _optional_path, None, "file holding this host's token (manage.py agent_token HOST)"),
    Option("ca_file", _optional_path, None, "CA bundle to verify the dashboard's certificate (default: system CAs)"),
    Option("verify", _boolean, True, "verify the dashboard's TLS certificate"),
    Option("interval", float, 60.0, "seconds between full resyncs"),
    Option("debounce", float, 0.5, "seconds of quiet after a change before reporting"),
    Option("rejected_hold", float, 30.0, "seconds before a refused report's successor; doubles to 15 min"),
    Option("timeout", float, 30.0, "HTTP timeout in seconds"),
    Option("ovsdb", str.strip, DEFAULT_REMOTE, "OVSDB remote, or 'none' to skip OVS"),
    Option("netns_dir", Path, DEFAULT_NETNS_DIR, "where `ip netns` keeps the namespaces"),
    Option("tunnel_ip", _optional_text, None, "tunnel endpoint address (default: from OVS tunnel ports)"),
    Option("gzip", _boolean, False, "send reports gzip-compressed"),
    Option("channel", _boolean, True, "keep the probe channel open (read-only probes on request)"),
    Option("channel_url", _optional_text, None, "probe channel websocket (default: ws(s)://<host of url>/ws/agents/)"),
    Option("active_probes", _boolean, False, "send one real ping on an admin's request (an active check)"),
    Option("ovn_sb_db", _ovn_remote, None, "OVN southbound for ovn_trace probes (default: this chassis's ovn-remote)"),
)
BY_KEY: dict[str, Option] = {option.key: option for option in OPTIONS}


@dataclass(frozen=True)
class Setting:
    value: Any
    source: str  # "default", "/etc/neutron-map/agent.conf", "env NEUTRON_MAP_AGENT_URL", "command line"...


def env_name(key: str) -> str:
    return ENV_PREFIX + key.upper()


def config_path(cli: Path | None, env: Mapping[str, str]) -> tuple[Path | None, bool]:
    """The configuration file to read and whether it was asked for (then it must exist)."""
    if cli is not None:
        return cli, True
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV]), True
    return DEFAULT_CONFIG, False


def read_file(path: Path | None, required: bool) -> tuple[dict[str, str], list[str]]:
    """The ``[agent]`` values of ``path`` and warnings (unknown keys: a newer agent's, kept quiet)."""
    if path is None or (not required and not path.exists()):
        return {}, []
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with path.open() as handle:
            parser.read_file(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read the configuration file {path}: {exc.strerror or exc}") from exc
    except configparser.Error as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    if not parser.has_section(SECTION):
        return {}, [f"{path}: no [{SECTION}] section: only defaults and the environment apply"]
    values = dict(parser.items(SECTION, raw=True))
    for key in list(values):
        if key in parser.defaults():
            del values[key]
    warnings = [f"{path}: unknown setting {key!r} ignored" for key in values if key not in BY_KEY]
    return {k: v for k, v in values.items() if k in BY_KEY}, warnings


def neutron_host(path: Path = NEUTRON_CONF) -> str | None:
    """Neutron's ``[DEFAULT] host`` (oslo.config ini), if the file is readable and sets it."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        with path.open() as handle:
            parser.read_file(handle)
    except (OSError, configparser.Error):
        return None
    host = parser.defaults().get("host", "").strip()
    return host or None


def resolve(
    cli: Mapping[str, Any],
    env: Mapping[str, str],
    file_values: Mapping[str, str],
    file_name: str,
    *,
    neutron_conf: Path = NEUTRON_CONF,
) -> dict[str, Setting]:
    """Every option's value and where it came from. Raises ConfigError naming a bad value's source."""
    settings: dict[str, Setting] = {}
    for option in OPTIONS:
        if cli.get(option.key) is not None:
            settings[option.key] = Setting(cli[option.key], "command line")
            continue
        for raw, source in ((env.get(env_name(option.key)), f"env {env_name(option.key)}"),
                            (file_values.get(option.key), file_name)):  # fmt: skip
            if raw is not None:
                try:
                    settings[option.key] = Setting(option.parse(raw), source)
                except ValueError as exc:
                    raise ConfigError(f"{option.key} = {raw!r} ({source}): {exc}") from exc
                break
        else:
            settings[option.key] = Setting(option.default, "default")
    if settings["host"].value is None:
        from_neutron = neutron_host(neutron_conf)
        settings["host"] = (
            Setting(from_neutron, f"{neutron_conf} [DEFAULT] host")
            if from_neutron
            else Setting(socket.gethostname(), "hostname")
        )
    problems = [f"interval must be > 0 (got {settings['interval'].value})"] if settings["interval"].value <= 0 else []
    for key in ("debounce", "rejected_hold"):
        if settings[key].value < 0:
            problems.append(f"{key} must be >= 0 (got {settings[key].value})")
    if settings["timeout"].value <= 0:
        problems.append(f"timeout must be > 0 (got {settings['timeout'].value})")
    if problems:
        raise ConfigError("; ".join(problems))
    return settings


def token_from(token: str | None, token_file: Setting, env: Mapping[str, str]) -> tuple[str, str]:
    """This host's token and where it came from ("" if none): --token, --token-file, the token in the
    environment, then the token_file of the environment or the file."""
    if token:
        return token.strip(), "command line"
    if token_file.source != "command line":
        for name in TOKEN_ENVS:
            if env.get(name, "").strip():
                return env[name].strip(), f"env {name}"
    if token_file.value is not None:
        return _read_token(token_file.value)
    return "", "none"


def _read_token(token_file: Path) -> tuple[str, str]:
    try:
        lines = token_file.read_text().strip().splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read the token file {token_file}: {exc.strerror or exc}") from exc
    return (lines[0].strip() if lines else ""), str(token_file)


def environment() -> dict[str, str]:
    return dict(os.environ)
