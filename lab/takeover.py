"""Taking over the machine from a dead lab of another checkout (see owner.dead).

A run killed mid-test (or a checkout deleted with its lab up) leaves the owner
record naming its LAB_DIR, and on the machine what no daemon will remove:
Neutron's and the VMs' namespaces, port-named and wiring links, br-int/br-tun/
br-ex (the userspace datapath's tap devices persist when ovs-vswitchd dies),
Neutron's iptables chains and ipsets, its /var/lib directory, and its
state.json saying `up`. `take_over` removes them as `lab down` there would
have, in the current view (procs.view), and says what went.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from lab import firewall, hosts, netns, ovs, paths, procs

log = logging.getLogger(__name__)


def lab_namespaces() -> list[str]:
    """The lab's namespaces (its VMs', the outside host's, Neutron's agents') in the current view."""
    return [ns for ns in netns.list_namespaces() if netns.LAB_NAMESPACE.match(ns)]


def lab_links() -> list[str]:
    """Root-namespace links the lab makes: port-named, DVR's, the outside host's and compute2's wires."""
    return [
        link
        for link in netns.root_links()
        if netns.PORT_LINK.match(link) or netns.DVR_LINK.match(link) or link in (ovs.OUTSIDE_PORT, *hosts.LINKS)
    ]


def bridge_links() -> list[str]:
    """The lab's OVS bridges left as links, when no Open vSwitch answers (else they are its to keep)."""
    if ovs.socket_answers():
        return []
    return [link for link in netns.root_links() if link in (*ovs.LAB_BRIDGES, *hosts.BRIDGES)]


def clear_dataplane() -> list[str]:
    """Delete the lab's namespaces, links, bridges, iptables chains and ipsets; returns what went."""
    removed = []
    for ns in lab_namespaces():
        netns.delete(ns)
        removed.append(f"namespace {ns}")
    for link in [*lab_links(), *bridge_links()]:
        netns.delete_link(link)
        removed.append(f"link {link}")
    rules, ipsets = firewall.neutron_rules(), firewall.neutron_ipsets()
    firewall.cleanup()
    removed += [f"{len(rules)} iptables rules"] if rules else []
    removed += [f"ipset {name}" for name in ipsets]
    return removed


def forget(dead: Path) -> list[str]:
    """What `lab down` removes of the dead lab's own: its /var/lib directory, run/ (stale pidfiles),
    etc/, state.json and clouds.yaml. Its virtualenvs, caches and logs stay, as after a down."""
    removed = []
    shared = paths.shared_dir(dead)
    if shared.exists():
        removed.append(f"directory {shared}")
    paths.remove_shared_dir(dead)
    for d in (dead / "run", dead / "etc"):
        if d.exists():
            shutil.rmtree(d, ignore_errors=True)
            removed.append(f"directory {d}")
    for f in (dead / "state.json", dead / "clouds.yaml"):
        if f.exists():
            f.unlink(missing_ok=True)
            removed.append(f"file {f}")
    return removed


def take_over(dead: Path) -> list[str]:
    """End what the dead lab of `dead` left running, then remove what it left; returns what went."""
    # Its PostgreSQL names only its shared dir (-D, the socket) on its command line. Stray
    # epmds on the lab's port go when rabbitmq.start() runs.
    killed = procs.kill_orphans(dead, paths.shared_dir(dead))
    removed = [*(f"process {pid}" for pid in killed), *clear_dataplane(), *forget(dead)]
    log.warning(
        "the lab of %s was dead (no daemon of it runs%s): took over, removed %s",
        dead,
        "" if dead.is_dir() else ", its LAB_DIR is gone",
        ", ".join(removed) or "nothing",
    )
    return removed
