"""The path warm-up (topology/path_warm.py): the same answers as a cold build, and a failure leaves requests working."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.history_inputs import Inputs, rebuild
from tests.test_path_graph import fresh, shape
from topology import path_graph, path_warm
from topology.path_view import TokenCount

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def clean() -> Any:
    path_graph.forget()
    yield
    path_graph.forget()


@pytest.fixture
def stored_graph() -> None:
    inputs = Inputs(hosts=4, ports=16, projects=2)
    inputs.store_all()
    rebuild()


def warm_in_thread() -> None:
    thread = threading.Thread(target=path_warm.keep_warm, args=(0, threading.Event()))
    thread.start()
    thread.join(60)


def test_warm_up_gives_what_a_cold_build_gives(stored_graph: None) -> None:
    warm_in_thread()
    held = path_graph._INDEXED["current"]
    assert held.key == path_graph.graph_key() and held.counted is not None
    assert path_graph.current_indexed() is held  # the request finds it made
    assert shape(held.topo) == shape(fresh())
    assert held.counted == TokenCount.of(fresh().nodes.values())


def test_a_failing_warm_up_leaves_requests_working(stored_graph: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(path_graph, "built", broken)
    assert path_warm.warm_once() is False
    monkeypatch.undo()
    assert path_graph.current_indexed().how == "built"


def test_off_unless_asked(settings: Any) -> None:
    settings.PATH_WARM_UP = False
    assert path_warm.start() is None
