"""A stand-in for Nova's metadata API (there is no Nova in the lab), on 127.0.0.1 only.

Neutron's metadata agent proxies a VM's request here with X-Instance-ID, X-Tenant-ID and
X-Instance-ID-Signature (HMAC-SHA256 of the instance id with metadata_proxy_shared_secret), as it
does to nova-api-metadata. This answers like Nova for a few keys, after checking the signature the
way Nova does (a wrong or missing signature: 403), so a real GET from a VM namespace proves the
whole chain: qrouter/qdhcp redirect, haproxy, the metadata agent's lookup of the port, the signing.

Usage: python nova_metadata.py PORT SECRET_FILE
"""

from __future__ import annotations

import hashlib
import hmac
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SECRET = b""


def sign(instance_id: str) -> str:
    return hmac.new(SECRET, instance_id.encode(), hashlib.sha256).hexdigest()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        instance = self.headers.get("X-Instance-ID") or ""
        signature = self.headers.get("X-Instance-ID-Signature") or ""
        if not instance or not hmac.compare_digest(sign(instance), signature):
            self.answer(403, "Invalid proxy request signature.\n")
            return
        remote = (self.headers.get("X-Forwarded-For") or "").split(",")[0].strip()
        keys = {
            "instance-id": instance,
            "local-ipv4": remote,
            "project-id": self.headers.get("X-Tenant-ID") or "",
        }
        path = self.path.split("?")[0].rstrip("/")
        prefix = "/latest/meta-data"
        if path == prefix:
            self.answer(200, "".join(f"{k}\n" for k in keys))
        elif path.startswith(prefix + "/") and path[len(prefix) + 1 :] in keys:
            self.answer(200, keys[path[len(prefix) + 1 :]])
        else:
            self.answer(404, "Not Found\n")

    def answer(self, status: int, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"nova-metadata stand-in: {self.address_string()} {format % args}\n")


def main() -> None:
    global SECRET
    port, secret_file = int(sys.argv[1]), Path(sys.argv[2])
    SECRET = secret_file.read_text().strip().encode()
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
