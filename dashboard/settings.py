"""Settings, all read from the environment (see README "Configuration")."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from dashboard.dburl import parse_database_url
from dashboard.env import env, envbool, envint, envlist, proxy_ssl_header
from dashboard.secretkey import existing_key

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env("DASHBOARD_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = envbool("DJANGO_DEBUG", False)
# The key signs sessions and seals the Keystone tokens kept for sessions and jobs: a key anyone
# can read in the source would give them away, so without DEBUG there is no fallback.
SECRET_KEY = env("DJANGO_SECRET_KEY", "") or existing_key(VAR_DIR / "secret-key")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE) is not set, there is no var/secret-key, and DJANGO_DEBUG "
            "is off: refusing to start with a public key. Set one (bin/run and manage.py make a random one in "
            "var/secret-key)."
        )
    SECRET_KEY = "dev-only-insecure-key-change-me"
# Old keys, still accepted (sessions, sealed credentials) while rotating to a new SECRET_KEY.
SECRET_KEY_FALLBACKS = envlist("DJANGO_SECRET_KEY_FALLBACKS", [])
ALLOWED_HOSTS = envlist("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = envlist("DJANGO_CSRF_TRUSTED_ORIGINS", [])

# Production behind TLS: DJANGO_HTTPS=1 turns on what an HTTPS site wants; each can be set apart.
HTTPS = envbool("DJANGO_HTTPS", False)
SESSION_COOKIE_SECURE = envbool("DJANGO_SESSION_COOKIE_SECURE", HTTPS)
CSRF_COOKIE_SECURE = envbool("DJANGO_CSRF_COOKIE_SECURE", HTTPS)
SECURE_SSL_REDIRECT = envbool("DJANGO_SECURE_SSL_REDIRECT", HTTPS)
SECURE_HSTS_SECONDS = envint("DJANGO_SECURE_HSTS_SECONDS", 31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
# The header a TLS-terminating proxy sets (e.g. X-Forwarded-Proto); trust it only behind such a proxy.
# Django cannot tell who sent it: in production leave it unset and let the ASGI server take the
# scheme from the proxy's addresses only (uvicorn --proxy-headers --forwarded-allow-ips, the
# neutron-map-web unit's DASHBOARD_TRUSTED_PROXIES); set it only when nothing but the proxy reaches the server.
SECURE_PROXY_SSL_HEADER = proxy_ssl_header(env("DJANGO_SECURE_PROXY_SSL_HEADER", ""))

INSTALLED_APPS = [
    "daphne",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "axes",
    "dashboard",
    "topology",
    "tasks",
    "lab",
]

MIDDLEWARE = [
    "topology.metrics.IngestLatencyMiddleware",  # first: times the agent report POST as a whole
    "django.middleware.security.SecurityMiddleware",
    # Static files (README "Deploying: the dashboard"): compressed, cached, before anything else runs.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "dashboard.csp.ContentSecurityPolicyMiddleware",
]

# Login throttling (dashboard/throttle.py): per user name and client address (REMOTE_ADDR: behind
# a reverse proxy, run daphne with --proxy-headers so that it is the client's).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = envint("DASHBOARD_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(seconds=envint("DASHBOARD_LOGIN_COOLOFF_SECONDS", 900))
# A lock lasts its cool-off from the last failure that counted; tries during it are refused, not counted.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False  # no banner on every manage.py command; failures and lockouts are still logged
# The login view renders the refusal itself (axes.W002: its middleware is not installed on purpose).
SILENCED_SYSTEM_CHECKS = ["axes.W002"]

ROOT_URLCONF = "dashboard.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "dashboard.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": parse_database_url(env("DATABASE_URL"), BASE_DIR)}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not memory: browser tests run daphne and Celery in other processes on the test database.
    DATABASES["default"]["TEST"] = {"NAME": env("DASHBOARD_TEST_DB", str(VAR_DIR / "test-db.sqlite3"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
# WhiteNoise serves STATIC_ROOT (collectstatic) and, without it, the finders' files (a checkout run as is).
WHITENOISE_USE_FINDERS = True
# Production (DASHBOARD_STATIC_MANIFEST=1, after collectstatic): content-hashed names served
# "immutable" for a year, with gzip copies; the templates then need the manifest collectstatic writes.
STATIC_MANIFEST = envbool("DASHBOARD_STATIC_MANIFEST", False)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Redis: the Celery broker and the Channels layer.
REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/0")
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # redis-py 8 reads with a 5 s socket timeout by default, the length of channels_redis's
        # blocking pop: an idle consumer's receive then fails ("Timeout reading") and the socket
        # closes with 1011 every few seconds. A longer socket timeout keeps idle sockets open.
        # The prefix of the layer's Redis keys: two dashboards (or two test runs) on one Redis keep
        # their groups apart.
        "CONFIG": {
            "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
            "prefix": env("DASHBOARD_CHANNEL_PREFIX", "asgi"),
        },
    },
}
CELERY_BROKER_URL = env("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# How long an unacknowledged job message (its worker died mid-job) waits in Redis before
# another worker gets it again. kombu's default is one hour; a job takes seconds.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", 300)}

# The cloud. OS_CLOUD names a cloud in clouds.yaml (openstacksdk's usual
# search path, or OS_CLIENT_CONFIG_FILE). Without OS_CLOUD the dashboard uses
# the embedded lab cloud (python manage.py lab up) as admin.
LAB_CLOUDS_YAML = Path(env("LAB_DIR", str(VAR_DIR / "lab"))) / "clouds.yaml"
OS_CLOUD = env("OS_CLOUD", "")
DASHBOARD_CLOUD = OS_CLOUD or "lab-admin"
DASHBOARD_CLOUDS_YAML = env("OS_CLIENT_CONFIG_FILE", "" if OS_CLOUD else str(LAB_CLOUDS_YAML))
CLOUD_API_TIMEOUT = envint("DASHBOARD_CLOUD_API_TIMEOUT", 30)
# An ML2/OVN cloud's central databases (Neutron's [ovn] ovn_nb_connection / ovn_sb_connection:
# tcp:ip:6641, ssl:..., unix:..., comma-separated for a cluster). Empty: not an OVN cloud.
OVN_NB_CONNECTION = env("OVN_NB_CONNECTION", "")
OVN_SB_CONNECTION = env("OVN_SB_CONNECTION", "")
OVN_TIMEOUT = envint("OVN_TIMEOUT", 10)

# Keystone (login, and X-Auth-Token of API clients). Empty: the auth_url of
# the service cloud in clouds.yaml.
KEYSTONE_URL = env("KEYSTONE_URL", "")
KEYSTONE_PUBLIC_URL = KEYSTONE_URL or "http://127.0.0.1:5000/v3"
# Validated X-Auth-Tokens are kept (dashboard/tokencache.py) in this Redis, shared by every process,
# as long as the token and at most this many seconds (0: every request asks Keystone).
KEYSTONE_TOKEN_CACHE_SECONDS = envint("KEYSTONE_TOKEN_CACHE_SECONDS", 300)
KEYSTONE_TOKEN_CACHE_URL = env("KEYSTONE_TOKEN_CACHE_URL", REDIS_URL)

# Neutron's notifications (topology/notifications/): an oslo.messaging transport URL of the bus
# Neutron's [oslo_messaging_notifications] publishes to; empty: off (logical changes then wait for
# the periodic refresh). The lab's: lab/rabbitmq.py NOTIFICATIONS_URL.
LAB_NOTIFICATIONS_URL = "rabbit://neutron-map:neutron-map@127.0.0.1:5672/notifications"
DASHBOARD_NOTIFICATIONS = env("DASHBOARD_NOTIFICATIONS", "" if OS_CLOUD else LAB_NOTIFICATIONS_URL)
# How often Celery beat refreshes the cloud snapshot (seconds).
CLOUD_REFRESH_SECONDS = envint("DASHBOARD_CLOUD_REFRESH_SECONDS", 30)
# Jobs: a job not ended this long after it was accepted is failed by the reaper (its message
# or its worker was lost); runs per job (retries and redeliveries together) are capped.
JOB_MAX_AGE_SECONDS = envint("DASHBOARD_JOB_MAX_AGE_SECONDS", 1800)
JOB_MAX_ATTEMPTS = envint("DASHBOARD_JOB_MAX_ATTEMPTS", 10)
JOB_REAP_SECONDS = envint("DASHBOARD_JOB_REAP_SECONDS", 60)
# A host whose last agent report is older than this many of the agent's resync intervals
# (python -m topology.agent --interval, 60 s by default) is shown as stale.
AGENT_INTERVAL_SECONDS = envint("DASHBOARD_AGENT_INTERVAL_SECONDS", 60)
HOST_STALE_SECONDS = AGENT_INTERVAL_SECONDS * envint("DASHBOARD_HOST_STALE_INTERVALS", 3)
# Above this many hosts or physical nodes the map loads the physical view collapsed: hosts with
# counts, a host's content fetched when it is expanded (static/js/map/collapsed.js).
MAP_COLLAPSE_ABOVE_HOSTS = envint("DASHBOARD_MAP_COLLAPSE_ABOVE_HOSTS", 300)
MAP_COLLAPSE_ABOVE_NODES = envint("DASHBOARD_MAP_COLLAPSE_ABOVE_NODES", 5000)
# Retention (days) of what nothing else deletes; pruned by Celery beat (tasks/retention.py).
RETAIN_REPORT_CHANGES_DAYS = envint("DASHBOARD_RETAIN_REPORT_CHANGES_DAYS", 30)
RETAIN_AUDIT_DAYS = envint("DASHBOARD_RETAIN_AUDIT_DAYS", 365)
RETAIN_JOBS_DAYS = envint("DASHBOARD_RETAIN_JOBS_DAYS", 30)
# The graph's history (topology/history/): kept this many days and at most this many MB; a
# checkpoint (the whole graph) at least every HISTORY_CHECKPOINT_EVERY revisions.
RETAIN_HISTORY_DAYS = envint("DASHBOARD_RETAIN_HISTORY_DAYS", 14)
RETAIN_HISTORY_MB = envint("DASHBOARD_RETAIN_HISTORY_MB", 2048)
HISTORY_CHECKPOINT_EVERY = envint("DASHBOARD_HISTORY_CHECKPOINT_EVERY", 1000)
# The served app (dashboard/asgi.py) makes the path explainer's graph and token count in a thread at
# start and moves them on when the revision changes, so no user's first question pays them
# (topology/path_warm.py); the poll is how often the revision is looked at (0: at start only).
PATH_WARM_UP = envbool("DASHBOARD_PATH_WARM_UP", True)
PATH_WARM_UP_POLL_SECONDS = envint("DASHBOARD_PATH_WARM_UP_POLL_SECONDS", 5)
# Watches' webhooks (topology/watches/webhook.py) never go to loopback, link-local, private,
# multicast or unspecified addresses, but to these CIDRs and host names an operator allows.
WATCH_WEBHOOK_ALLOW = envlist("DASHBOARD_WATCH_WEBHOOK_ALLOW", [])
PRUNE_SECONDS = envint("DASHBOARD_PRUNE_SECONDS", 3600)
SESSION_PRUNE_SECONDS = envint("DASHBOARD_SESSION_PRUNE_SECONDS", 3600)
# Agent reports (POST /api/v1/agents/report/): "queue" stores the report and hands the host to the
# graph writer (tasks/graph.py, Celery queue "graph", one process: bin/run starts it), answering 202
# at once; "inline" joins in the request, as before (one small install; the test suite's default).
GRAPH_WRITER = env("DASHBOARD_GRAPH_WRITER", "queue")
if GRAPH_WRITER not in ("queue", "inline"):
    raise ImproperlyConfigured(f"DASHBOARD_GRAPH_WRITER must be queue or inline, not {GRAPH_WRITER!r}")
# Where the writer's work list lives (topology/ingest_queue.py): Redis.
GRAPH_QUEUE_URL = env("DASHBOARD_GRAPH_QUEUE_URL", REDIS_URL)
# The writer is behind when its oldest unapplied report is older than this: reports are then
# answered 503 with Retry-After until it catches up. Reports coalesce, so a running writer's lag is
# about two of its rebuilds whatever the rate (35-45 s at 1,000 hosts on a loaded 2-core machine,
# docs/benchmarks.md): the bound is for a writer stopped or stuck, not a slow one.
GRAPH_MAX_LAG_SECONDS = float(env("DASHBOARD_GRAPH_MAX_LAG_SECONDS", "120"))
GRAPH_RETRY_AFTER_SECONDS = envint("DASHBOARD_GRAPH_RETRY_AFTER_SECONDS", 10)
# A queued writer task that was lost lets the next report queue another after this long.
GRAPH_SCHEDULED_TTL_SECONDS = envint("DASHBOARD_GRAPH_SCHEDULED_TTL_SECONDS", 60)
# How often beat queues the writer anyway (a mark whose task was lost waits at most this long).
GRAPH_SWEEP_SECONDS = envint("DASHBOARD_GRAPH_SWEEP_SECONDS", 15)
# The writer's lease (topology/graphservice/lease.py): one applier at a time; a killed holder's lapses after this.
GRAPH_WRITER_LEASE_SECONDS = envint("DASHBOARD_GRAPH_WRITER_LEASE_SECONDS", 30)
CELERY_TASK_ROUTES = {"graph.*": {"queue": "graph"}}

# Exactly one beat sends the schedule (dashboard/beat.py): a lease in the broker's Redis; another beat
# stands by and takes over when the holder's lease lapses (a holder killed) or is released (stopped).
CELERY_BEAT_SCHEDULER = "dashboard.beat:SingleBeatScheduler"
BEAT_LEASE_SECONDS = envint("DASHBOARD_BEAT_LEASE_SECONDS", 30)
# Two installations on one Redis (a test run beside a running dashboard) keep their beats apart.
BEAT_LEASE_KEY = env("DASHBOARD_BEAT_LEASE_KEY", "neutron-map:beat")
CELERY_BEAT_SCHEDULE = {
    "refresh-cloud": {"task": "tasks.refresh_cloud", "schedule": float(CLOUD_REFRESH_SECONDS)},
    "reap-jobs": {"task": "tasks.reap_jobs", "schedule": float(JOB_REAP_SECONDS)},
    "prune": {"task": "tasks.prune", "schedule": float(PRUNE_SECONDS)},
    # Expired sessions are deleted (dashboard/tasks.py), not kept in the database with their sealed tokens.
    "clear-sessions": {"task": "dashboard.clear_sessions", "schedule": float(SESSION_PRUNE_SECONDS)},
    # The graph writer's sweep (queue "graph"): applies marks whose task was lost; expires unrun.
    "graph-sweep": {
        "task": "graph.apply_reports",
        "schedule": float(GRAPH_SWEEP_SECONDS),
        "options": {"queue": "graph", "expires": float(GRAPH_SWEEP_SECONDS)},
    },
}

# /metrics (topology/metrics.py): Prometheus sends it as Authorization: Bearer; empty: admins' sessions only.
METRICS_TOKEN = env("DASHBOARD_METRICS_TOKEN", "")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "dashboard.auth.KeystoneTokenAuthentication",
        "dashboard.auth.SessionCallerAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["dashboard.auth.IsProjectScoped"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Neutron topology dashboard API",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("DASHBOARD_LOG_LEVEL", "INFO")},
}
