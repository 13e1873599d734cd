"""Remove what Neutron's iptables firewall leaves in the root namespace.

The OVS agent's iptables_hybrid driver adds `neutron-*` chains (filter, raw)
and `NIPv4*`/`NIPv6*` ipsets in the host's namespace; the L3 and DHCP agents'
rules live in their namespaces and go with them.
"""

from __future__ import annotations

import logging

from lab import procs

log = logging.getLogger(__name__)

CHAIN_PREFIX = "neutron-"
IPSET_PREFIXES = ("NIPv4", "NIPv6")


def neutron_chain_cleanup(saved: str) -> str:
    """iptables-restore --noflush input deleting the neutron chains from `saved`."""
    out: list[str] = []
    table: str | None = None
    jumps: list[str] = []
    chains: list[str] = []
    for line in saved.splitlines():
        if line.startswith("*"):
            table, jumps, chains = line[1:], [], []
        elif line.startswith(":") and line[1:].startswith(CHAIN_PREFIX):
            chains.append(line[1:].split()[0])
        elif line.startswith("-A ") and not line[3:].startswith(CHAIN_PREFIX) and f"-j {CHAIN_PREFIX}" in line:
            jumps.append("-D " + line[3:])
        elif line == "COMMIT" and table and (jumps or chains):
            out += [f"*{table}", *jumps, *(f"-F {c}" for c in chains), *(f"-X {c}" for c in chains), "COMMIT"]
    return "\n".join(out) + "\n" if out else ""


def remove_neutron_chains() -> None:
    for family in ("iptables", "ip6tables"):
        saved = procs.run([f"{family}-save"], check=False).stdout
        script = neutron_chain_cleanup(saved)
        if script:
            # -w: with the legacy backend, Neutron's agents may hold the xtables lock.
            # In the current view, as iptables-save above (lab.takeover runs it in a sandbox's in tests).
            done = procs.run([f"{family}-restore", "-w", "--noflush"], check=False, input=script)
            if done.returncode != 0:
                log.warning(
                    "%s-restore of the neutron chains' removal failed (%d): %s",
                    family,
                    done.returncode,
                    done.stderr.strip(),
                )


def neutron_rules() -> list[str]:
    """Lines of iptables-save/ip6tables-save that name a neutron chain."""
    lines = []
    for family in ("iptables", "ip6tables"):
        saved = procs.run([f"{family}-save"], check=False).stdout
        lines += [line for line in saved.splitlines() if CHAIN_PREFIX in line]
    return lines


def neutron_ipsets() -> list[str]:
    names = procs.run(["ipset", "list", "-n"], check=False).stdout.split()
    return [n for n in names if n.startswith(IPSET_PREFIXES)]


def remove_neutron_ipsets() -> None:
    for name in neutron_ipsets():
        procs.run(["ipset", "destroy", name], check=False)


def cleanup() -> None:
    remove_neutron_chains()  # first: rules reference the ipsets
    remove_neutron_ipsets()
