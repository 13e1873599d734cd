"""Which checkout's lab runs here (lab/owner.py) and the test session's teardown, on temporary dirs.

No lab is touched: the owner record and both checkouts' LAB_DIRs are temporary,
and the teardown is given a recording `down`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lab import owner, procs
from tests.conftest import end_lab_session, keep_lab, own_scenario


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(record, this checkout's LAB_DIR, another checkout's LAB_DIR)."""
    mine, other = tmp_path / "mine" / "var" / "lab", tmp_path / "other" / "var" / "lab"
    for d in (mine, other):
        d.mkdir(parents=True)
    return tmp_path / "neutron-lab.owner", mine, other


def up_at(lab_dir: Path, status: str = "up", scenario: str = "allinone") -> None:
    (lab_dir / "state.json").write_text(json.dumps({"status": status, "scenario": scenario}))


def test_no_record_or_our_own_is_no_foreign_lab(dirs: tuple[Path, Path, Path]) -> None:
    record, mine, _ = dirs
    assert owner.adoptable(False, record, mine) is None
    owner.claim(record, mine)
    assert record.read_text() == f"{mine}\n"
    up_at(mine)
    assert owner.foreign(record, mine) is None
    assert owner.adoptable(False, record, mine) is None


def test_another_checkouts_running_lab_is_refused_with_the_way_out(dirs: tuple[Path, Path, Path]) -> None:
    record, mine, other = dirs
    owner.claim(record, other)
    up_at(other, scenario="dvr")
    with pytest.raises(owner.ForeignLab) as caught:
        owner.adoptable(False, record, mine)
    message = str(caught.value)
    assert caught.value.other == other
    assert f"LAB_DIR={other} (status up, scenario dvr)" in message
    assert f"this checkout's is {mine}" in message
    assert f"LAB_DIR={other} python manage.py lab down" in message
    assert "lab up --adopt" in message


def test_adopting_is_explicit(dirs: tuple[Path, Path, Path]) -> None:
    record, mine, other = dirs
    owner.claim(record, other)
    up_at(other)
    assert owner.adoptable(True, record, mine) == other
    # LAB_DIR naming the other checkout's lab makes it this one's: nothing foreign.
    assert owner.adoptable(False, record, other) is None


def test_a_lab_with_live_daemons_but_no_state_counts_as_running(dirs: tuple[Path, Path, Path]) -> None:
    record, mine, other = dirs
    owner.claim(record, other)
    run = other / "run"
    run.mkdir()
    # A pidfile naming a live process (this one, with its start time) as the lab's daemons write them.
    (run / "postgres.pid").write_text(f"{os.getpid()} {procs._start_time(os.getpid())} 2 10.0\n")
    assert owner.foreign(record, mine) == other
    with pytest.raises(owner.ForeignLab, match="its daemons run"):
        owner.adoptable(False, record, mine)


def test_a_gone_lab_is_stale_not_foreign(dirs: tuple[Path, Path, Path]) -> None:
    record, mine, other = dirs
    owner.claim(record, other)
    run = other / "run"
    run.mkdir()
    (run / "postgres.pid").write_text("999999999 0 2 10.0\n")  # no such process
    assert owner.foreign(record, mine) is None
    assert owner.stale(record, mine) == other
    assert owner.adoptable(False, record, mine) is None


def test_release_forgets_only_our_own_record(dirs: tuple[Path, Path, Path]) -> None:
    record, mine, other = dirs
    owner.claim(record, other)
    owner.release(record, mine)
    assert owner.current(record) == other
    owner.claim(record, mine)
    owner.release(record, mine)
    assert not record.exists()


@pytest.mark.parametrize(
    ("environ", "kept"),
    [
        ({}, False),
        ({"LAB_KEEP": ""}, False),
        ({"LAB_KEEP": "0"}, False),
        ({"LAB_KEEP": "1"}, True),
        ({"LAB_KEEP": "true"}, True),
        ({"LAB_KEEP": "YES"}, True),
        # The old flag means nothing now: the lab goes unless LAB_KEEP keeps it.
        ({"LAB_DOWN_AFTER_TESTS": "0"}, False),
    ],
)
def test_the_session_takes_the_lab_down_unless_LAB_KEEP(environ: dict[str, str], kept: bool) -> None:
    downs: list[str] = []
    assert keep_lab(environ) is kept
    assert end_lab_session(environ, lambda: downs.append("down")) is not kept
    assert downs == ([] if kept else ["down"])


def test_the_session_goes_by_its_own_state_never_another_checkouts(dirs: tuple[Path, Path, Path]) -> None:
    """A CI run once found another checkout's lab recorded as up (its daemons gone), took that for
    its own and never ran `up`: 170 lab tests failed on a clouds.yaml that did not exist. The
    session now always calls up() with the scenario of its own state.json (allinone without one),
    and up() takes a dead foreign lab over or refuses a live one."""
    record, mine, other = dirs
    owner.claim(record, other)
    up_at(other, scenario="dvr")
    assert own_scenario(mine / "state.json") == "allinone"  # nothing of ours: not the other's dvr
    up_at(mine, status="down", scenario="ha")
    assert own_scenario(mine / "state.json") == "allinone"
    up_at(mine, scenario="overlap")
    assert own_scenario(mine / "state.json") == "overlap"
    (mine / "state.json").write_text("{not json")
    assert own_scenario(mine / "state.json") == "allinone"
    (mine / "state.json").write_text("[1, 2]")
    assert own_scenario(mine / "state.json") == "allinone"
    assert owner.dead(record, mine) == other  # no daemons of its own run: up() takes it over
