"""What the writer holds less of: the checkpoint's text made in pieces, the same bytes as the whole graph's."""

from __future__ import annotations

import gzip

import orjson
import pytest

from bench.synthetic import synthetic_cloud
from topology import graph as g
from topology.graphservice.delta import graph_json
from topology.history.record import gzipped
from topology.join import join_cold


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
