"""The agent's settings: file, then environment, then command line; the host from Neutron's `host`."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from tests.agent.test_cli_and_send import PYTHON, REPO
from topology.agent import config
from topology.agent.__main__ import parse_args
from topology.agent.check import effective_capabilities
from topology.agent.delivery import RejectedHold
from topology.agent.send import whoami_url


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_the_command_line_beats_the_environment_which_beats_the_file(tmp_path: Path) -> None:
    conf = write(
        tmp_path / "agent.conf",
        "[agent]\nurl = https://dash.example.org/api/v1/agents/report/\ninterval = 120\n"
        "debounce = 2\nverify = no\nhost = from-file\ngzip = yes\n",
    )
    env = {config.CONFIG_ENV: str(conf), "NEUTRON_MAP_AGENT_INTERVAL": "90", "NEUTRON_MAP_AGENT_TOKEN": "t0k"}
    args = parse_args(["--debounce", "0.25"], env=env)
    assert args.url == "https://dash.example.org/api/v1/agents/report/"
    assert args.settings["url"].source == str(conf)
    assert (args.interval, args.settings["interval"].source) == (90.0, "env NEUTRON_MAP_AGENT_INTERVAL")
    assert (args.debounce, args.settings["debounce"].source) == (0.25, "command line")
    assert args.verify is False and args.gzip is True and args.host == "from-file"
    assert (args.token, args.token_source) == ("t0k", "env NEUTRON_MAP_AGENT_TOKEN")
    assert args.channel is True and args.settings["channel"].source == "default"
    assert parse_args(["--no-channel", "--no-verify", "--print"], env={}).channel is False


def test_the_token_file_and_the_old_token_variable(tmp_path: Path) -> None:
    token = write(tmp_path / "token", "s3cret\n")
    conf = write(tmp_path / "agent.conf", f"[agent]\ntoken_file = {token}\n")
    args = parse_args(["--config", str(conf)], env={})
    assert (args.token, args.token_source) == ("s3cret", str(token))
    assert parse_args(["--config", str(conf)], env={"TOPOLOGY_AGENT_TOKEN": "older"}).token == "older"
    # --token-file given on the command line beats a token in the environment, as it always did.
    other = write(tmp_path / "other", "mine\n")
    assert parse_args(["--token-file", str(other)], env={"TOPOLOGY_AGENT_TOKEN": "older"}).token == "mine"


def test_the_host_is_neutrons_host_option_else_the_hostname(tmp_path: Path) -> None:
    neutron = write(tmp_path / "neutron.conf", "[DEFAULT]\ncore_plugin = ml2\nhost = compute-7.example\n[database]\n")
    settings = config.resolve({}, {}, {}, "none", neutron_conf=neutron)
    assert settings["host"] == config.Setting("compute-7.example", f"{neutron} [DEFAULT] host")
    assert config.resolve({}, {}, {}, "none", neutron_conf=tmp_path / "absent.conf")["host"] == config.Setting(
        socket.gethostname(), "hostname"
    )
    unreadable = write(tmp_path / "nohost.conf", "[DEFAULT]\ndebug = true\n")
    assert config.resolve({}, {}, {}, "none", neutron_conf=unreadable)["host"].source == "hostname"
    # The agent's own setting wins over Neutron's.
    assert config.resolve({}, {}, {"host": "mine"}, "f", neutron_conf=neutron)["host"].value == "mine"


def test_a_bad_value_is_refused_naming_where_it_came_from(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match=r"interval = 'often' \(env NEUTRON_MAP_AGENT_INTERVAL\)"):
        config.resolve({}, {"NEUTRON_MAP_AGENT_INTERVAL": "often"}, {}, "f")
    with pytest.raises(config.ConfigError, match=r"verify = 'maybe' \(/etc/x.conf\): not a boolean"):
        config.resolve({}, {}, {"verify": "maybe"}, "/etc/x.conf")
    with pytest.raises(config.ConfigError, match="interval must be > 0"):
        config.resolve({"interval": 0.0}, {}, {}, "f")
    with pytest.raises(config.ConfigError, match="cannot read the configuration file"):
        config.read_file(tmp_path / "missing.conf", required=True)
    assert config.read_file(tmp_path / "missing.conf", required=False) == ({}, [])


def test_an_unknown_setting_is_a_warning_not_an_error(tmp_path: Path) -> None:
    conf = write(tmp_path / "agent.conf", "[agent]\nurl = https://d/api/v1/agents/report/\nfuture_knob = 1\n")
    values, warnings = config.read_file(conf, required=True)
    assert values == {"url": "https://d/api/v1/agents/report/"}
    assert warnings == [f"{conf}: unknown setting 'future_knob' ignored"]


def test_the_cli_exits_2_naming_the_bad_setting(tmp_path: Path) -> None:
    conf = write(tmp_path / "agent.conf", "[agent]\ntimeout = soon\n")
    done = subprocess.run(
        [PYTHON, "-m", "topology.agent", "--print", "--config", str(conf)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"timeout = 'soon' ({conf})" in done.stderr


def test_the_whoami_url_sits_beside_the_report_url() -> None:
    assert whoami_url("https://d.example/api/v1/agents/report/") == "https://d.example/api/v1/agents/whoami/"
    assert whoami_url("https://d.example/x/api/v1/agents/report") == "https://d.example/x/api/v1/agents/whoami/"


def test_capabilities_are_read_from_proc_status() -> None:
    status = "Name:\tx\nCapEff:\t0000000000201002\nCapBnd:\t000001ffffffffff\n"
    assert effective_capabilities(status) == {1, 12, 21}


def test_a_refused_report_is_held_longer_each_time_until_one_is_taken() -> None:
    hold = RejectedHold(first=30.0, cap=900.0)
    assert [hold.delay() for _ in range(7)] == [30.0, 60.0, 120.0, 240.0, 480.0, 900.0, 900.0]
    hold.reset()
    assert hold.delay() == 30.0
