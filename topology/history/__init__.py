"""The history of the graph: every revision's delta and cause, checkpoints, replay, retention, the list API.

- ``models.py``: GraphRevision, one row per revision (delta gz, now and then the whole graph gz);
  CheckpointNodes, a checkpoint's nodes by bucket (``checkpoint_nodes.py``), read by "what changed".
- ``causes.py``: why a revision happened (host report, no fresh report, cloud refresh, job), inferred.
- ``record.py``: record_revision(), called where the graph service bumps the revision.
- ``replay.py``: graph_at(revision): the nearest checkpoint plus the deltas after it.
- ``retention.py``: prune_history(), by age and size, cutting only at checkpoints (the prune beat task).
- ``listing.py``: the revisions a caller may see, scoped through topology.scope for project members.
- ``api.py``: GET /api/v1/topology/history/.
"""
