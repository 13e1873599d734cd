"""The report's optional namespaces[].processes: collected from /proc (what `ip netns pids` finds),
validated when present, absent from an older agent's report without a reason."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.test_report import good
from topology.agent.processes import namespace_processes
from topology.report import validate_report


def test_a_report_without_processes_is_valid_and_with_them_too() -> None:
    report = good()
    assert "processes" not in report["namespaces"][0] and validate_report(report) == []
    report["namespaces"][0]["processes"] = [{"pid": 42, "name": "haproxy", "argv": ["haproxy", "-f", "x.conf"]}]
    assert validate_report(report) == []


@pytest.mark.parametrize(
    ("processes", "reason"),
    [
        ({"pid": 1}, "namespaces[0].processes"),
        ([{"pid": "42", "name": "haproxy", "argv": []}], "namespaces[0].processes[0].pid"),
        ([{"pid": 42, "name": None, "argv": []}], "namespaces[0].processes[0].name"),
        ([{"pid": 42, "name": "haproxy", "argv": [1]}], "namespaces[0].processes[0].argv"),
        ([{"pid": 42, "name": "haproxy"}], "namespaces[0].processes[0].argv"),
    ],
)
def test_bad_processes_are_refused_with_the_path(processes: object, reason: str) -> None:
    report = good()
    report["namespaces"][0]["processes"] = processes
    assert any(r.startswith(reason) for r in validate_report(report)), validate_report(report)


@pytest.fixture
def namespace_with_a_sleeper() -> Iterator[tuple[str, int]]:
    """A real named namespace with one process in it (root only: the agent's own setting)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create a network namespace")
    name = f"proctest-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    proc = subprocess.Popen(["ip", "netns", "exec", name, sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield name, proc.pid
    finally:
        proc.kill()
        proc.wait()
        subprocess.run(["ip", "netns", "delete", name], check=False)


def test_the_processes_of_a_namespace_are_found_by_its_inode(namespace_with_a_sleeper: tuple[str, int]) -> None:
    name, pid = namespace_with_a_sleeper
    inode = os.stat(Path("/run/netns") / name).st_ino
    for _ in range(50):  # `ip netns exec` becomes python once it has entered the namespace
        found = namespace_processes({inode: name})[name]
        if any(p["name"].startswith("python") for p in found):
            break
        subprocess.run(["sleep", "0.1"], check=True)
    assert [p["pid"] for p in found] == [pid]
    assert found[0]["argv"][1:3] == ["-c", "import time; time.sleep(60)"]
