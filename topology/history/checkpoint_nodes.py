"""A checkpoint's nodes by bucket (:class:`~topology.history.models.CheckpointNodes`): written beside the
checkpoint, read one bucket at a time by "what changed" (topology/history/window.py).

A node's bucket is the CRC-32 of its id modulo BUCKETS (the same in every process, unlike ``hash``);
every bucket of a checkpoint has its row, empty or not, so a missing row means the checkpoint was
written without them (before this table, or by hand) and the caller searches the checkpoint itself.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable
from datetime import datetime

import orjson

from topology import graph as g
from topology.history.delta import CHECKPOINT_GZIP_LEVEL
from topology.history.models import CheckpointNodes

BUCKETS = 512  # ~300 nodes a bucket on the 1,000-host cloud: a few kB gzipped


def bucket_of(node_id: str, buckets: int = BUCKETS) -> int:
    return zlib.crc32(node_id.encode()) % buckets


def cut(nodes: Iterable[g.Node], buckets: int = BUCKETS) -> list[list[g.Node]]:
    """The nodes in their buckets (every bucket, empty ones too), each in the order given."""
    out: list[list[g.Node]] = [[] for _ in range(buckets)]
    for node in nodes:
        out[bucket_of(node["id"], buckets)].append(node)
    return out


def write(revision: int, at: datetime, nodes: Iterable[g.Node]) -> None:
    """The checkpoint of ``revision`` (recorded ``at``) by bucket; rows of an earlier graph state at it replaced."""
    CheckpointNodes.objects.filter(revision=revision).delete()
    CheckpointNodes.objects.bulk_create(
        (
            CheckpointNodes(
                revision=revision,
                at=at,
                buckets=BUCKETS,
                bucket=n,
                nodes_gz=gzip.compress(orjson.dumps(part), compresslevel=CHECKPOINT_GZIP_LEVEL),
            )
            for n, part in enumerate(cut(nodes))
        ),
        batch_size=128,
    )


def read(revision: int, at: datetime, node_id: str) -> dict[str, g.Node] | None:
    """The nodes of ``node_id``'s bucket in that checkpoint by id; None when it has no such rows."""
    blob = (
        CheckpointNodes.objects.filter(revision=revision, at=at, buckets=BUCKETS, bucket=bucket_of(node_id))
        .values_list("nodes_gz", flat=True)
        .first()
    )
    if blob is None:
        return None
    return {node["id"]: node for node in orjson.loads(gzip.decompress(bytes(blob)))}


def prune_before(revision: int) -> None:
    CheckpointNodes.objects.filter(revision__lt=revision).delete()


def drop_from(revision: int) -> None:
    """The rows of a graph state that was reset (at or past ``revision``)."""
    CheckpointNodes.objects.filter(revision__gte=revision).delete()
