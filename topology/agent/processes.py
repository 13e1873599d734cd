"""The processes each named network namespace runs (what `ip netns pids` shows), for the report's
optional ``namespaces[].processes``: the metadata proxy (haproxy) in a qrouter or qdhcp namespace,
dnsmasq in qdhcp and its upstream servers (its command line).

A process is in a namespace when its /proc/<pid>/ns/net is the namespace's nsfs inode. One pass over
/proc per report, whatever the number of namespaces.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from topology.report import Process

PROC = Path("/proc")
MAX_PROCESSES = 32  # per namespace: a router or DHCP namespace runs one or two
MAX_ARGS = 64
MAX_ARG_CHARS = 512


def namespace_processes(inode_names: Mapping[int, str], proc: Path = PROC) -> dict[str, list[Process]]:
    """Namespace name -> its processes (pid order), for the namespaces of ``inode_names`` (nsfs inode -> name)."""
    found: dict[str, list[Process]] = {name: [] for name in inode_names.values()}
    for entry in sorted((e for e in os.scandir(proc) if e.name.isdigit()), key=lambda e: int(e.name)):
        try:
            name = inode_names.get(os.stat(f"{entry.path}/ns/net").st_ino)
        except OSError:  # gone, or a kernel thread we may not look into
            continue
        if name is None or len(found[name]) >= MAX_PROCESSES:
            continue
        process = read_process(Path(entry.path))
        if process is not None:
            found[name].append(process)
    return found


def read_process(path: Path) -> Process | None:
    try:
        comm = (path / "comm").read_text().strip()
        raw = (path / "cmdline").read_bytes()
    except OSError:
        return None
    argv = [a.decode(errors="replace")[:MAX_ARG_CHARS] for a in raw.split(b"\0") if a][:MAX_ARGS]
    return {"pid": int(path.name), "name": comm, "argv": argv}
