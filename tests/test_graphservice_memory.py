"""What the writer holds less of, the same values: the checkpoint's text made in pieces, strings shared."""

from __future__ import annotations

import copy
import gzip

import orjson
import pytest

from bench.synthetic import synthetic_cloud
from topology import graph as g
from topology.graphservice.delta import graph_json
from topology.history.record import gzipped
from topology.join import join_cold
from topology.join.host import host_physical
from topology.join.shared import SHORT, share_values


@pytest.mark.parametrize("chunk", [1, 7, 50_000])
def test_the_graph_in_pieces_is_the_whole_graphs_orjson(chunk: int) -> None:
    graph = join_cold(*synthetic_cloud(hosts=4, ports=12, projects=2, network_nodes=1, tunnel_peers=2))
    whole = orjson.dumps(graph.to_dict())
    pieces = list(graph_json(graph.nodes, graph.edges, chunk))
    assert b"".join(pieces) == whole
    assert len(pieces) > 4 or chunk == 50_000
    assert gzip.decompress(gzipped(pieces, 1)) == whole


def test_an_empty_graph_in_pieces() -> None:
    empty = g.Graph(nodes={}, edges={})
    assert b"".join(graph_json(empty.nodes, empty.edges)) == orjson.dumps(empty.to_dict())


def test_a_parts_values_and_edge_ends_are_shared_objects_and_equal() -> None:
    _, reports = synthetic_cloud(hosts=3, ports=12, projects=2, network_nodes=1, tunnel_peers=2)
    host = sorted(reports)[0]
    piece = host_physical(host, copy.deepcopy(reports[host]))
    ids = {id(node_id) for node_id in piece.nodes} | {id(piece.host_node)}
    assert piece.edges and all(id(s) in ids and id(t) in ids for s, t, _ in piece.edges)
    states = [node["attrs"]["state"] for node in piece.nodes.values() if node["attrs"].get("state") == "UP"]
    assert len(states) > 1 and all(state is states[0] for state in states)
    # made again from a report parsed afresh: equal values, the same order
    again = host_physical(host, orjson.loads(orjson.dumps(reports[host])))
    assert list(again.nodes.items()) == list(piece.nodes.items()) and list(again.edges) == list(piece.edges)


def test_shared_values_are_equal_and_long_texts_kept() -> None:
    long = "x" * (SHORT + 1)
    value = orjson.loads(orjson.dumps({"a": [{"s": "ACTIVE"}, {"s": "ACTIVE"}], "t": long, "n": 3, "k": None}))
    before = copy.deepcopy(value)
    share_values(value)
    assert value == before
    assert value["a"][0]["s"] is value["a"][1]["s"]
