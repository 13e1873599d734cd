"""Taking the lab down: what it made removed, leftovers listed (a dead checkout's lab: lab.takeover)."""

from __future__ import annotations

import logging
import shutil
import time

from lab import (
    database,
    firewall,
    hosts,
    netns,
    neutron,
    nodeagent,
    ovs,
    owner,
    paths,
    procs,
    rabbitmq,
    takeover,
)

log = logging.getLogger(__name__)


def _down() -> float:
    t0 = time.monotonic()
    procs.stop(*nodeagent.all_names())
    neutron.stop()
    # compute2 after host 1's agents (LAB.md), while host 1's OVS still runs.
    hosts.stop_compute2()
    # Deleting a VM's namespace ends its udhcpc and its veth pair; the qbr and
    # qvb/qvo links go below with the other port-named links.
    for ns in takeover.lab_namespaces():
        netns.delete(ns)
    ovs.teardown()
    for link in takeover.lab_links():
        netns.delete_link(link)
    firewall.cleanup()
    procs.stop("keystone")
    rabbitmq.stop()
    database.stop()
    database.remove()
    procs.stop(*procs.daemon_pids())  # anything else a pidfile names
    procs.kill_strays()
    for d in (paths.RUN_DIR, paths.ETC_DIR):
        shutil.rmtree(d, ignore_errors=True)
    for f in (paths.STATE_FILE, paths.CLOUDS_YAML):
        f.unlink(missing_ok=True)
    elapsed = time.monotonic() - t0
    log.info("lab down in %.1f s", elapsed)
    return elapsed


def leftovers() -> list[str]:
    """What the lab would have left behind after `down()`: empty when the machine is clean."""
    found = [f"namespace {ns}" for ns in netns.list_namespaces() if netns.LAB_NAMESPACE.match(ns)]
    found += [
        f"link {link}"
        for link in netns.root_links()
        if netns.PORT_LINK.match(link) or netns.DVR_LINK.match(link) or link in (ovs.OUTSIDE_PORT, *ovs.LAB_BRIDGES)
    ]
    found += hosts.leftovers()
    if ovs.DB_SOCK.exists():
        found.append(f"socket {ovs.DB_SOCK}")
    if owner.OWNER_FILE.exists():
        found.append(f"file {owner.OWNER_FILE}")
    if paths.SHARED_DIR.exists():
        found.append(f"directory {paths.SHARED_DIR}")
    found += [f"process {pid}" for pid in [*procs.lab_processes(), *rabbitmq.stray_epmds()]]
    found += [f"pidfile {name}" for name in procs.daemon_pids()]
    found += [f"iptables {line}" for line in firewall.neutron_rules()]
    found += [f"ipset {name}" for name in firewall.neutron_ipsets()]
    return found
