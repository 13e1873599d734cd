"""Watched paths (issue 18 item 4): a user pins a path, its verdict is kept and its changes pushed.

- ``models.py``: Watch (the user, the project scope, src/dst/probe, the last verdict, a webhook url and its secret).
- ``api.py``: ``/api/v1/watches/`` CRUD, scoped: a member watches only endpoints it may see, and never sees,
  edits or deletes another project's watch (404, nothing of it in the answer).
"""
