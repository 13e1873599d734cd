"""The graph service: one writer keeps the joined graph in memory by part; persisted and served by part.

:func:`apply` is what the writer runs for what changed: the hosts whose report
was stored, the cloud snapshot, or everything (``services.rebuild_graph``). Its
cost follows the change: only those inputs are read, the join re-does only their
parts (topology/join/cache.py), the delta is made by identity, and only the parts
it touched are rewritten (GraphPart). The web processes assemble the graph from
the parts once per revision (:func:`topology.graphservice.store.assembled_graph`).

Modules: :mod:`.inputs` (the inputs in memory), :mod:`.delta` (the delta by
identity), :mod:`.parts` (which part holds each node and edge), :mod:`.rejoin` (a host
report re-joined alone, O(change)), :mod:`.store`
(GraphPart rows, the assembled graph), :mod:`.writer` (:class:`GraphWriter`), :mod:`.lease` (one
applier at a time across processes, in the queue mode).
"""

from __future__ import annotations

from collections.abc import Collection

from django.conf import settings

from topology.graphservice.lease import writer_lease
from topology.graphservice.writer import Applied, GraphWriter
from topology.models import GraphState

# This process's writer (one writer at a time: services.JOIN_LOCK in the process, the lease in Redis
# across processes and machines; another process's writes are noticed by revision and synced from the database).
WRITER = GraphWriter()


def apply(hosts: Collection[str] = (), cloud: bool = False, everything: bool = False) -> GraphState:
    """Apply the change of these ``hosts``' stored reports and/or the cloud snapshot (``everything``:
    compare every input with what is held, by digest); returns the graph state, its revision bumped if
    the graph changed (and the delta published)."""
    from topology import services  # the join's cache and lock live there (tests reset the cache)

    with services.JOIN_LOCK:
        if settings.GRAPH_WRITER != "queue":  # inline: one process joins (the test suite's, a small install)
            return WRITER.apply(services.JOIN_CACHE, hosts=hosts, cloud=cloud, everything=everything)
        with writer_lease():  # queue mode: one applier in the whole installation at a time (lease.py)
            return WRITER.apply(services.JOIN_CACHE, hosts=hosts, cloud=cloud, everything=everything)


def last_applied() -> Applied:
    return WRITER.last


__all__ = ["WRITER", "Applied", "GraphWriter", "apply", "last_applied"]
