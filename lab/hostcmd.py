"""Commands and pings in a lab host's view (compute2: its holder's namespaces), by VM or namespace name."""

from __future__ import annotations

import os
import subprocess

from lab import (
    hosts,
    netns,
    procs,
)
from lab import vm as vms
from lab.state import read_state


def locate(name: str) -> tuple[str, str]:
    """(host, namespace) of a VM name (`vm-db-1`), `outside`, a namespace name, or `host:namespace`."""
    if ":" in name:
        host, ns = name.split(":", 1)
        return host, ns
    vm = read_state().get("vms", {}).get(name)
    if vm:
        return vm.get("host", hosts.CONTROLLER), vm["namespace"]
    if netns.exists(name):
        return hosts.CONTROLLER, name
    return hosts.CONTROLLER, vms.namespace(name)


def ping(vm: str, target: str, timeout: float = 90.0) -> bool:
    """Ping `target` from VM `vm` (or `outside`, or `host:namespace`) in its host's view,
    polling until a reply or `timeout` (the first ping on a new path is often lost)."""
    host, ns = locate(vm)
    with procs.view(hosts.view(host)):
        return vms.ping(ns, target, timeout)


def run_on(host: str, argv: list[str], capture: bool = False) -> subprocess.CompletedProcess[str]:
    """Run `argv` in `host`'s view (compute2: inside its holder's network and mount namespaces)."""
    v = hosts.view(host)
    # nsenter -m would start in /: keep the caller's working directory.
    full = [*(v.prefix if v else ()), *([f"--wd={os.getcwd()}"] if v else []), *argv]
    return subprocess.run(full, capture_output=capture, text=True, check=False)


def run_in(name: str, argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run `argv` inside a VM's (or `outside`'s, or `host:namespace`'s) namespace, output captured."""
    host, ns = locate(name)
    return run_on(host, ["ip", "netns", "exec", ns, *argv], capture=True)


def namespaces(host: str) -> list[str]:
    """`ip netns` names of `host` (compute2: its own /run/netns)."""
    with procs.view(hosts.view(host)):
        return netns.list_namespaces()
