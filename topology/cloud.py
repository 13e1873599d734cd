"""Connections to the cloud with openstacksdk.

The service connection uses the cloud named by settings.DASHBOARD_CLOUD from
settings.DASHBOARD_CLOUDS_YAML (the lab's clouds.yaml unless OS_CLOUD says
otherwise).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import openstack.connection
from django.conf import settings
from openstack.config import loader


class CloudNotConfigured(RuntimeError):
    """No clouds.yaml defines the cloud the dashboard is told to use."""


def service_connection() -> openstack.connection.Connection:
    """A connection as the dashboard's own account (admin on the lab), kept per process.

    Kept so that its token is reused until it expires: a refresh then costs only its
    list calls, not a version discovery and a token request each time.
    """
    return cached_service_connection(settings.DASHBOARD_CLOUD, settings.DASHBOARD_CLOUDS_YAML)


@functools.lru_cache(maxsize=4)
def cached_service_connection(cloud: str, clouds_yaml: str) -> openstack.connection.Connection:
    files = [clouds_yaml] if clouds_yaml else None
    if files and not Path(files[0]).exists():
        raise CloudNotConfigured(
            f"{files[0]} does not exist: run `python manage.py lab up` or set OS_CLOUD to a cloud of your clouds.yaml"
        )
    config = loader.OpenStackConfig(config_files=files, load_envvars=False)
    try:
        region = config.get_one(cloud=cloud, api_timeout=settings.CLOUD_API_TIMEOUT)
    except Exception as exc:  # openstacksdk raises its own ConfigException
        raise CloudNotConfigured(f"cloud {cloud!r}: {exc}") from exc
    return openstack.connection.Connection(config=region)


@dataclass(frozen=True)
class CloudSummary:
    """What the home page shows: the cloud's networks and routers."""

    cloud: str
    networks: list[dict[str, object]]
    routers: list[dict[str, object]]


def summarize(conn: openstack.connection.Connection, cloud: str) -> CloudSummary:
    """One list call per resource type (never one call per object)."""
    networks = [
        {
            "id": net.id,
            "name": net.name,
            "status": net.status,
            "external": bool(net.is_router_external),
            "subnets": len(net.subnet_ids or []),
            "project_id": net.project_id,
        }
        for net in conn.network.networks()
    ]
    routers = [
        {
            "id": router.id,
            "name": router.name,
            "status": router.status,
            "gateway_network_id": (router.external_gateway_info or {}).get("network_id"),
            "distributed": bool(router.is_distributed),
            "ha": bool(router.is_ha),
            "project_id": router.project_id,
        }
        for router in conn.network.routers()
    ]
    return CloudSummary(
        cloud=cloud,
        networks=sorted(networks, key=lambda n: (not n["external"], str(n["name"]))),
        routers=sorted(routers, key=lambda r: str(r["name"])),
    )
