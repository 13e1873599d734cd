"""A tiny JSON client for Keystone and Neutron, on the standard library only.

The lab runs from any interpreter (the dashboard's venv, pytest, a script),
so it does not lean on the dashboard's openstacksdk pins.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

KEYSTONE_URL = "http://127.0.0.1:5000/v3"
NEUTRON_URL = "http://127.0.0.1:9696"

Json = dict[str, Any]


class HttpError(RuntimeError):
    def __init__(self, method: str, url: str, status: int, body: str) -> None:
        super().__init__(f"{method} {url} -> {status}: {body[:500]}")
        self.status = status
        self.body = body


def request(
    method: str, url: str, body: Json | None = None, token: str | None = None, timeout: float = 60.0
) -> tuple[int, dict[str, str], Json | None]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Auth-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            return resp.status, dict(resp.headers), json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raise HttpError(method, url, e.code, e.read().decode(errors="replace")) from None


def status_of(url: str, timeout: float = 2.0) -> int | None:
    """HTTP status of an unauthenticated GET, None if nothing answers."""
    try:
        return request("GET", url, timeout=timeout)[0]
    except HttpError as e:
        return e.status
    except OSError:
        return None


def password_token(username: str, password: str, project: str) -> str:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": username, "domain": {"id": "default"}, "password": password}},
            },
            "scope": {"project": {"name": project, "domain": {"id": "default"}}},
        }
    }
    _, headers, _ = request("POST", f"{KEYSTONE_URL}/auth/tokens", body)
    return headers["X-Subject-Token"]


@dataclass
class Client:
    """A project-scoped session against one service's base URL."""

    base_url: str
    token: str

    @classmethod
    def login(cls, base_url: str, username: str, password: str, project: str) -> Client:
        return cls(base_url, password_token(username, password, project))

    def get(self, path: str) -> Json:
        return request("GET", self.base_url + path, token=self.token)[2] or {}

    def post(self, path: str, body: Json) -> Json:
        return request("POST", self.base_url + path, body, token=self.token)[2] or {}

    def put(self, path: str, body: Json) -> Json:
        return request("PUT", self.base_url + path, body, token=self.token)[2] or {}

    def delete(self, path: str) -> None:
        request("DELETE", self.base_url + path, token=self.token)
