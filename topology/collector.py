"""The cloud collector: one paginated list call per resource type per refresh.

Results are Neutron's own JSON (field names as the API sends them), which is
what the join reads. Every HTTP request is counted, so "calls per refresh"
is a measured figure, not a promise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import openstack.connection
from openstack import exceptions as sdk_exceptions

JsonDict = dict[str, Any]

# (snapshot key, API path, JSON collection key)
NETWORK_RESOURCES: tuple[tuple[str, str, str], ...] = (
    ("networks", "/networks", "networks"),
    ("subnets", "/subnets", "subnets"),
    ("ports", "/ports", "ports"),
    ("routers", "/routers", "routers"),
    ("floatingips", "/floatingips", "floatingips"),
    ("security_groups", "/security-groups", "security_groups"),
    ("security_group_rules", "/security-group-rules", "security_group_rules"),
    ("agents", "/agents", "agents"),
)


@dataclass
class RequestCounter:
    """Counts the HTTP requests a connection makes (a requests response hook)."""

    count: int = 0

    def __call__(self, response: Any, *args: Any, **kwargs: Any) -> None:
        self.count += 1


@dataclass(frozen=True)
class Collected:
    data: dict[str, list[JsonDict]]
    api_calls: int
    duration: float


def count_requests(conn: openstack.connection.Connection) -> RequestCounter:
    counter = RequestCounter()
    conn.session.session.hooks.setdefault("response", []).append(counter)
    return counter


def list_all(proxy: Any, path: str, key: str, params: dict[str, Any] | None = None) -> list[JsonDict]:
    """GET a collection, following Neutron's ``<key>_links`` "next" pages if the server paginates."""
    items: list[JsonDict] = []
    query = dict(params or {})
    while True:
        response = proxy.get(path, params=query, raise_exc=False)
        sdk_exceptions.raise_from_response(response)
        body = response.json()
        items.extend(body.get(key, []))
        next_link = next((link["href"] for link in body.get(f"{key}_links", []) if link.get("rel") == "next"), None)
        if not next_link:
            return items
        query = {k: v[-1] for k, v in parse_qs(urlsplit(next_link).query).items()}


def collect_cloud(conn: openstack.connection.Connection) -> Collected:
    """Snapshot the cloud's networking state (and servers when a compute API exists)."""
    counter = count_requests(conn)
    started = time.monotonic()
    data: dict[str, list[JsonDict]] = {}
    for name, path, key in NETWORK_RESOURCES:
        try:
            data[name] = list_all(conn.network, path, key)
        except sdk_exceptions.ForbiddenException:
            data[name] = []  # agents are admin-only: a tenant's cloud shows no hosts
    data["servers"] = collect_servers(conn)
    return Collected(data=data, api_calls=counter.count, duration=time.monotonic() - started)


def collect_servers(conn: openstack.connection.Connection) -> list[JsonDict]:
    if not conn.has_service("compute"):
        return []  # no Nova (the lab): the join derives instances from ports' device_id
    try:
        return list_all(conn.compute, "/servers/detail", "servers", {"all_tenants": 1})
    except sdk_exceptions.ForbiddenException:
        return list_all(conn.compute, "/servers/detail", "servers")
