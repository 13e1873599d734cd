"""The graph writer's task (queue ``graph``, one worker process: ``-Q graph -c 1 --pool solo``).

Thin: the coalescing is topology/ingest_queue.py's, the join topology.graphservice's (a
long-lived process keeps the graph, its inputs and the join's parts in memory, and re-reads
and re-joins only the marked hosts).
"""

from __future__ import annotations

from celery import shared_task

from topology.ingest_queue import WRITER_TASK


@shared_task(name=WRITER_TASK, ignore_result=True, acks_late=True)
def apply_reports() -> int:
    """Apply every marked host's stored report (as few rebuilds as the marks allow); returns the rebuilds made."""
    from topology import graphservice, ingest_queue

    def apply(marked: list[str]) -> object:
        hosts = [host for host in marked if host != ingest_queue.CLOUD_MARK]
        if len(hosts) < len(marked):  # a cloud refresh: everything compared (services.apply_cloud)
            return graphservice.apply(everything=True)
        return graphservice.apply(hosts=hosts)

    return ingest_queue.drain(apply)
