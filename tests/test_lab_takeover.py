"""`lab up` over another checkout's dead lab (lab.owner.dead, lab.takeover, lab.api._claim).

The decision runs on temporary owner records and LAB_DIRs. The cleanup runs for real (ip netns,
ip link, ip tuntap, iptables, ipset, a process) in a sandbox: a private network and mount namespace
whose /run/netns is a temporary directory and whose /run/openvswitch is empty, entered through
procs.view as compute2 is. So the shared lab's namespaces, links and rules are never in reach,
and no lab is built (api._claim is up() up to `_up`, which builds this checkout's lab).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import api, netns, ovs, owner, paths, procs, takeover

DEAD_PID = "999999999 0 2 10.0\n"  # a pidfile naming no process


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(record, this checkout's LAB_DIR, another checkout's LAB_DIR), the record naming the other."""
    mine, other = tmp_path / "mine" / "var" / "lab", tmp_path / "other" / "var" / "lab"
    for d in (mine, other):
        d.mkdir(parents=True)
    record = tmp_path / "neutron-lab.owner"
    owner.claim(record, other)
    return record, mine, other


def killed_mid_test(lab_dir: Path) -> None:
    """What a killed run leaves in its LAB_DIR: state.json saying up, pidfiles of dead daemons."""
    (lab_dir / "state.json").write_text(json.dumps({"status": "up", "scenario": "allinone"}))
    (lab_dir / "run").mkdir()
    for name in ("postgres", "keystone", "ovsdb-server", "neutron-server"):
        (lab_dir / "run" / f"{name}.pid").write_text(DEAD_PID)


def live_daemon(lab_dir: Path) -> None:
    """A pidfile naming a live process (this one, with its start time), as the lab's daemons write them."""
    (lab_dir / "run").mkdir(exist_ok=True)
    (lab_dir / "run" / "postgres.pid").write_text(f"{os.getpid()} {procs._start_time(os.getpid())} 2 10.0\n")


def test_no_record_or_our_own_is_not_dead(tmp_path: Path) -> None:
    record, mine = tmp_path / "neutron-lab.owner", tmp_path / "mine"
    assert owner.dead(record, mine) is None
    owner.claim(record, mine)  # our own lab, even with no daemon running, is ours to handle (`_up`)
    assert owner.dead(record, mine) is None


def test_a_removed_lab_dir_is_dead(dirs: tuple[Path, Path, Path]) -> None:
    record, mine, other = dirs
    shutil.rmtree(other)
    assert owner.dead(record, mine) == other


def test_a_killed_run_whose_state_says_up_is_dead(dirs: tuple[Path, Path, Path]) -> None:
    record, mine, other = dirs
    killed_mid_test(other)
    assert owner.foreign(record, mine) == other  # what refused it before: its state.json
    assert owner.dead(record, mine) == other


def test_a_lab_with_a_state_and_no_pidfiles_at_all_is_dead(dirs: tuple[Path, Path, Path]) -> None:
    record, mine, other = dirs
    (other / "state.json").write_text(json.dumps({"status": "starting", "scenario": "dvr"}))
    assert owner.dead(record, mine) == other


def test_one_live_daemon_makes_it_alive_and_refused_as_before(dirs: tuple[Path, Path, Path]) -> None:
    record, mine, other = dirs
    killed_mid_test(other)
    live_daemon(other)
    assert owner.dead(record, mine) is None
    with pytest.raises(owner.ForeignLab, match=r"status up, scenario allinone"):
        api._claim(False, record, mine)
    assert owner.current(record) == other
    assert (other / "state.json").exists()
    assert api._claim(True, record, mine) == other  # --adopt borrows it, as before
    assert owner.current(record) == other


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[procs.View]:
    """A private network and mount namespace (a holder process, like compute2's), as a procs.View."""
    names, ovs_run = tmp_path / "sandbox" / "netns", tmp_path / "sandbox" / "openvswitch"
    for d in (names, ovs_run):
        d.mkdir(parents=True)
    script = (
        f"mkdir -p /run/netns /run/openvswitch && mount --bind {names} /run/netns"
        f" && mount --bind {ovs_run} /run/openvswitch && exec sleep infinity"
    )
    holder = subprocess.Popen(["unshare", "--net", "--mount", "--propagation", "private", "sh", "-c", script])
    try:
        assert procs.wait_for(lambda: Path(procs.cmdline(holder.pid)[0]).name == "sleep", 30), "holder not ready"
        for ns in ("net", "mnt"):  # never run the cleanup where the shared lab lives
            assert os.readlink(f"/proc/{holder.pid}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}")
        view = procs.View("sandbox", ("nsenter", "-t", str(holder.pid), "-n", "-m"), names)
        with procs.view(view):
            assert netns.list_namespaces() == []
            assert netns.root_links() == ["lo"]
            yield view
    finally:
        holder.kill()
        holder.wait()


def leave_a_dead_labs_dataplane() -> None:
    """In the current view: what a killed allinone run leaves, and things not the lab's."""
    for ns in ("qdhcp-0b8e1f0c-5c1e-4a55-9a59-6a8c7b3a1d2e", "vm-cirros-01", "outside", "someone-elses"):
        netns.add(ns)
    procs.run(["ip", "link", "add", "tap0b8e1f0c-5c", "type", "veth", "peer", "name", "qvo0b8e1f0c-5c"])
    procs.run(["ip", "link", "add", "eth7", "type", "veth", "peer", "name", "eth8"])  # not the lab's
    for bridge in ("br-int", "br-ex"):  # ovs-vswitchd's tap devices outlive it
        procs.run(["ip", "tuntap", "add", "dev", bridge, "mode", "tap"])
    procs.run(["iptables", "-N", "neutron-openvswi-FORWARD"])
    procs.run(["iptables", "-A", "FORWARD", "-j", "neutron-openvswi-FORWARD"])
    procs.run(["iptables", "-N", "other-chain"])
    procs.run(["ipset", "create", "NIPv40b8e1f0c-5c1e-4a55-9a5", "hash:net"])


def an_orphan_of(lab_dir: Path) -> subprocess.Popen[bytes]:
    """A process naming the dead lab's dir on its command line, as its dnsmasq would."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", f"{lab_dir}/run/dnsmasq.pid"])


@pytest.mark.parametrize("how", ["removed", "killed"])
def test_up_over_a_dead_lab_removes_what_it_left_and_claims_the_machine(
    dirs: tuple[Path, Path, Path], sandbox: procs.View, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    record, mine, other = dirs
    if how == "removed":
        shutil.rmtree(other)
    else:
        killed_mid_test(other)
    paths.SHARED_BASE.mkdir(exist_ok=True)
    paths.shared_dir(other).mkdir()
    leave_a_dead_labs_dataplane()
    orphan = an_orphan_of(other)
    try:
        with caplog.at_level(logging.WARNING, logger="lab.takeover"):
            assert api._claim(False, record, mine) is None  # up() goes on to build this checkout's lab
        # procs.kill reaps it (Popen.wait would see no child): alive means a pid still running.
        assert not procs.pid_alive(orphan.pid)
    finally:
        if orphan.poll() is None:  # not reaped by procs.kill: never signal a pid it may have freed
            orphan.kill()
    said = caplog.text
    assert f"the lab of {other} was dead" in said
    for what in (
        f"process {orphan.pid}",
        "namespace vm-cirros-01",
        "link br-int",
        f"directory {paths.shared_dir(other)}",
    ):
        assert what in said
    assert owner.current(record) == mine
    assert netns.list_namespaces() == ["someone-elses"]
    assert sorted(netns.root_links()) == ["eth7", "eth8", "lo"]
    saved = procs.run(["iptables-save"]).stdout
    assert "neutron-" not in saved
    assert ":other-chain" in saved
    assert procs.run(["ipset", "list", "-n"]).stdout.split() == []
    assert not paths.shared_dir(other).exists()
    assert not (other / "state.json").exists()
    assert not (other / "run").exists()


def test_a_live_foreign_labs_leftovers_are_not_touched(dirs: tuple[Path, Path, Path], sandbox: procs.View) -> None:
    record, mine, other = dirs
    live_daemon(other)
    netns.add("qdhcp-0b8e1f0c-5c1e-4a55-9a59-6a8c7b3a1d2e")
    with pytest.raises(owner.ForeignLab):
        api._claim(False, record, mine)
    assert netns.list_namespaces() == ["qdhcp-0b8e1f0c-5c1e-4a55-9a59-6a8c7b3a1d2e"]
    assert owner.current(record) == other


def test_bridges_are_left_to_an_open_vswitch_that_answers(tmp_path: Path, sandbox: procs.View) -> None:
    db = tmp_path / "conf.db"
    procs.run(["ovsdb-tool", "create", str(db), str(ovs.SCHEMA)])
    server = subprocess.Popen([*sandbox.prefix, "ovsdb-server", str(db), f"--remote=punix:{ovs.DB_SOCK}"])
    try:
        assert procs.wait_for(ovs.socket_answers, 30)
        procs.run(["ip", "tuntap", "add", "dev", "br-int", "mode", "tap"])
        assert takeover.bridge_links() == []
        assert "link br-int" not in takeover.clear_dataplane()
        assert "br-int" in netns.root_links()
    finally:
        server.kill()
        server.wait()
    assert takeover.bridge_links() == ["br-int"]  # nothing answers now
