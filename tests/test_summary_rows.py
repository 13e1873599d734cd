"""A summary row's stored host node text (topology/graphservice/summary_rows.py): the collapsed node spliced
from it is the decoded node's, byte for byte; migration 0010's conversions go both ways unchanged."""

from __future__ import annotations

import importlib

import orjson

from bench.synthetic import synthetic_cloud
from topology import collapsed
from topology.freshness import mark_stale
from topology.graphservice import summary_rows
from topology.join import join

migration = importlib.import_module("topology.migrations.0010_summaries_node_text")


def summaries_of_a_cloud() -> dict[str, collapsed.HostSummary]:
    data, reports = synthetic_cloud(3, 9, 2, 1)
    graph = mark_stale(join(data, reports).to_dict(), {"compute0001": "2026-12-02T10:00:00+00:00"})
    graph["nodes"][0]["attrs"]["note"] = 'quote " and \\ and \n and \u00e9'  # text needing escapes
    return collapsed.summarize(graph["nodes"], graph["edges"])


def test_the_spliced_node_is_the_decoded_node_s_json_byte_for_byte() -> None:
    summaries = summaries_of_a_cloud()
    row = summary_rows.decode(summary_rows.encode(summaries, {("compute0000", "compute0001"): 2}, revision=3))
    assert row is not None and row["revision"] == 3
    read = summary_rows.hosts_of(row)
    assert set(read) == set(summaries) and summary_rows.links_of(row) == {("compute0000", "compute0001"): 2}
    states = set()
    for host, summary in summaries.items():
        got, want = read[host], summary
        assert got.node is None and got.counts == want.counts and got.warnings == want.warnings
        assert got.drawn_id() == want.drawn_id() and got.state() == want.state()
        states.add(got.state())
        spliced = got.collapsed_json()
        assert isinstance(spliced, orjson.Fragment)
        assert orjson.dumps([spliced]) == orjson.dumps([want.collapsed_node()])
    assert states == {"up", "stale"}
    assert orjson.dumps(collapsed.collapsed_graph(read, {})) == orjson.dumps(collapsed.collapsed_graph(summaries, {}))


def test_a_row_of_the_old_form_is_none_to_a_reader_and_the_migration_converts_both_ways() -> None:
    summaries = summaries_of_a_cloud()
    old = orjson.dumps(
        {
            "hosts": {
                h: {"node": s.node, "counts": s.counts, "warnings": s.warnings, "q": s.quarantined}
                for h, s in summaries.items()
            },
            "links": [["compute0000", "compute0001", 2]],
            "revision": 4,
            "tunnels": [["iface:compute0000:-:vxlan-1", "iface:compute0001:-:vxlan-0"]],
        }
    )
    assert summary_rows.decode(old) is None
    made = migration.old_to_new(old)
    assert made is not None
    new, tunnels = made
    assert tunnels == [["iface:compute0000:-:vxlan-1", "iface:compute0001:-:vxlan-0"]]
    assert migration.old_to_new(new) is None  # already converted: left alone
    assert migration.new_to_old(new, tunnels) == old
