"""The dashboard's settings for the test suite: the same, with a random key when none is given.

The production settings refuse to start without a key (DEBUG off). The key goes into the
environment, so that the daphne and Celery processes the tests start share it (they verify
sessions and unseal credentials this process made).
"""

import os
import secrets

if not os.environ.get("DJANGO_SECRET_KEY") and not os.environ.get("DJANGO_SECRET_KEY_FILE"):
    os.environ["DJANGO_SECRET_KEY"] = "test-" + secrets.token_urlsafe(40)

# The suite's tests post a report and read the graph at once: the report is joined in the request
# (tests/test_ingest_queue.py runs the queue mode with its own Redis and writer worker). In the
# environment, so that the daphne processes the tests start join inline too.
os.environ.setdefault("DASHBOARD_GRAPH_WRITER", "inline")

# Websocket groups of this run only: another run on the same Redis (a second checkout, a CI
# rehearsal) never delivers its deltas to this run's browsers. In the environment, for the
# daphne processes the tests start.
os.environ.setdefault("DASHBOARD_CHANNEL_PREFIX", "asgi-test-" + secrets.token_hex(4))

# The beat lease of this run only (dashboard/beat.py): a running dashboard's beat on the same Redis
# does not make this run's beats stand by.
os.environ.setdefault("DASHBOARD_BEAT_LEASE_KEY", "neutron-map:beat:test-" + secrets.token_hex(4))

# No path warm-up thread in the suite nor in the daphne processes it starts (tests/test_path_warm.py
# calls it directly): its reads would race the tests' own writes on SQLite.
os.environ.setdefault("DASHBOARD_PATH_WARM_UP", "0")

from dashboard.settings import *  # noqa: F403
