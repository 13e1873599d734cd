"""Watched paths (issue 18 item 4): a user pins a path, its verdict is kept and its changes pushed.

- ``models.py``: Watch (the user, the project scope, src/dst/probe, the last verdict and hops, a webhook
  url and its secret) and WatchEvent (a verdict change: the watch's timeline, its webhook delivery).
- ``api.py``: ``/api/v1/watches/`` CRUD, scoped: a member watches only endpoints it may see, and never sees,
  edits or deletes another project's watch (404, nothing of it in the answer).
- ``check.py``: after a revision, the watches whose hops it touches re-explained; a change noted and sent.
- ``tasks.py``: the Celery tasks (the check; the webhook's delivery, retried with backoff) and the hook
  topology/history/record.py calls on commit.
- ``webhook.py``: the signed POST (HMAC-SHA256 with the watch's secret).
- ``consumer.py``: ``/ws/watches/``, the user's verdict changes for the toast (static/js/watch-toast.js).
- ``views.py``: the Watches page (/watches/).
"""
