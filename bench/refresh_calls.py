"""Cloud API calls per refresh with 1 and with 10 browsers reading the topology at once.

    .venv/bin/python -m bench.refresh_calls     (needs the lab: python manage.py lab up)

Every HTTP request the dashboard's service connection makes (Keystone and
Neutron) is counted while B browser threads read /api/v1/topology/ in a loop
and the collector refreshes R times; a browser's token is validated once
(then cached), and browsers never cause a cloud call of their own.
"""

from __future__ import annotations

import os
import threading
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from keystoneauth1 import session as ksa_session  # noqa: E402
from keystoneauth1.identity import v3  # noqa: E402

from topology import services  # noqa: E402
from topology.cloud import service_connection  # noqa: E402
from topology.collector import RequestCounter  # noqa: E402

REFRESHES = 5


def admin_token() -> str:
    import yaml

    with open(settings.DASHBOARD_CLOUDS_YAML) as fh:
        auth = yaml.safe_load(fh)["clouds"][settings.DASHBOARD_CLOUD]["auth"]
    plugin = v3.Password(
        auth_url=auth["auth_url"],
        username=auth["username"],
        password=auth["password"],
        project_name=auth["project_name"],
        user_domain_name="Default",
        project_domain_name="Default",
    )
    return str(ksa_session.Session(auth=plugin).get_token())


def browse(token: str, stop: threading.Event, reads: list[int]) -> None:
    client = Client(HTTP_X_AUTH_TOKEN=token)
    while not stop.is_set():
        assert client.get("/api/v1/topology/?view=full").status_code == 200
        reads.append(1)


def measure(browsers: int) -> tuple[int, int, float]:
    counter = RequestCounter()
    hooks = service_connection().session.session.hooks.setdefault("response", [])
    hooks.append(counter)
    stop, reads = threading.Event(), list[int]()
    threads = [threading.Thread(target=browse, args=(admin_token(), stop, reads)) for _ in range(browsers)]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    for _ in range(REFRESHES):
        services.refresh_cloud()
    stop.set()
    for thread in threads:
        thread.join()
    hooks.remove(counter)
    return counter.count, len(reads), time.monotonic() - started


def main() -> None:
    call_command("migrate", verbosity=0)
    services.refresh_cloud()  # log in once, as a running worker already has
    results = {b: measure(b) for b in (1, 10)}
    for browsers, (calls, reads, seconds) in results.items():
        print(
            f"{browsers:2d} browser(s): {calls} cloud API calls for {REFRESHES} refreshes "
            f"({calls / REFRESHES:.1f} per refresh; includes one token validation per browser) "
            f"while browsers made {reads} topology reads in {seconds:.1f} s"
        )
    one, ten = results[1][0], results[10][0]
    print(
        f"calls per refresh, excluding token validations: 1 browser {(one - 1) / REFRESHES:.1f}, "
        f"10 browsers {(ten - 10) / REFRESHES:.1f} (target: the same, <= 8); ratio {((ten - 10) / (one - 1)):.2f}"
    )


if __name__ == "__main__":
    main()
