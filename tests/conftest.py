"""Shared fixtures: the real lab cloud (once per session) and its clouds."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openstack.connection
import pytest
from openstack.config import loader

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", REPO / "artifacts"))


@pytest.fixture(scope="session")
def lab() -> Iterator[dict[str, Any]]:
    """The real lab cloud with scenario ``allinone``, brought up once.

    ``lab up`` is a no-op when the lab already runs, so a developer's lab is
    reused; a lab this session started is left up for the next run unless
    LAB_DOWN_AFTER_TESTS=1 (CI machines are thrown away anyway).
    """
    from lab import api

    api.up("allinone")
    yield api.status()
    if os.environ.get("LAB_DOWN_AFTER_TESTS") == "1":
        api.down()


@contextmanager
def lab_scenario(lab_state: dict[str, Any], name: str) -> Iterator[dict[str, Any]]:
    """The lab switched to scenario ``name``, and back to ``allinone`` after (the session's
    ``lab`` dict is refreshed in place, so later tests see the rebuilt allinone's ids)."""
    from lab import api

    state = api.up(name)
    try:
        yield state
    finally:
        api.up("allinone")
        lab_state.clear()
        lab_state.update(api.status())


@pytest.fixture(scope="module")
def dvr_lab(lab: dict[str, Any]) -> Iterator[dict[str, Any]]:
    with lab_scenario(lab, "dvr") as state:
        yield state


@pytest.fixture(scope="module")
def overlap_lab(lab: dict[str, Any]) -> Iterator[dict[str, Any]]:
    with lab_scenario(lab, "overlap") as state:
        yield state


def lab_connection(lab_state: dict[str, Any], cloud: str) -> openstack.connection.Connection:
    config = loader.OpenStackConfig(config_files=[lab_state["clouds_yaml"]], load_envvars=False)
    return openstack.connection.Connection(config=config.get_one(cloud=cloud))


@pytest.fixture(scope="session")
def admin_cloud(lab: dict[str, Any]) -> openstack.connection.Connection:
    return lab_connection(lab, "lab-admin")


@pytest.fixture(scope="session")
def demo_cloud(lab: dict[str, Any]) -> openstack.connection.Connection:
    return lab_connection(lab, "lab-demo")


@pytest.fixture(scope="session")
def alt_cloud(lab: dict[str, Any]) -> openstack.connection.Connection:
    return lab_connection(lab, "lab-alt")


def lab_password(lab_state: dict[str, Any], user: str) -> str:
    import yaml

    with open(lab_state["clouds_yaml"]) as fh:
        return str(yaml.safe_load(fh)["clouds"][f"lab-{user}"]["auth"]["password"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
