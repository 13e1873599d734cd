"""Lab VMs: network namespaces plugged the way Nova plugs a VM (hybrid, os-vif).

    vm-<name>: eth0 ==veth== tap<id11> -[qbr<id11>]- qvb<id11> ==veth== qvo<id11> on br-int

`qvo` carries the external ids Nova sets, so the OVS agent binds the port,
tags it and Neutron marks it ACTIVE; the iptables_hybrid firewall filters on
`tap`. The address comes from Neutron's dnsmasq over real DHCP (busybox
udhcpc with the lab's own script: dhclient-script would rewrite the host's
/etc/resolv.conf).
"""

from __future__ import annotations

from dataclasses import dataclass

from lab import netns, ovs, paths, procs
from lab.procs import Daemon

UDHCPC_SCRIPT = paths.ETC_DIR / "udhcpc.script"

# Called by udhcpc inside the VM namespace; touches only that namespace.
_SCRIPT = """\
#!/bin/sh
case "$1" in
  deconfig)
    ip addr flush dev "$interface"
    ip link set dev "$interface" up
    ;;
  bound|renew)
    [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
    [ "$1" = bound ] && ip addr flush dev "$interface"
    # With the lease's lifetime, as a DHCP client sets it ("dynamic").
    ip addr replace "$ip/$subnet" dev "$interface" valid_lft "${lease:-forever}" preferred_lft "${lease:-forever}"
    for r in $router; do
      ip route replace default via "$r" dev "$interface"
      break
    done
    ;;
esac
exit 0
"""


@dataclass(frozen=True)
class VifNames:
    """Device names os-vif derives from the port id (first 11 characters)."""

    port_id: str

    @property
    def tap(self) -> str:
        return f"tap{self.port_id[:11]}"

    @property
    def qbr(self) -> str:
        return f"qbr{self.port_id[:11]}"

    @property
    def qvb(self) -> str:
        return f"qvb{self.port_id[:11]}"

    @property
    def qvo(self) -> str:
        return f"qvo{self.port_id[:11]}"


def namespace(vm: str) -> str:
    return f"vm-{vm}"


def plug(vm: str, port_id: str, mac: str, device_id: str, mtu: int) -> None:
    """Plug VM `vm` on Neutron port `port_id` hybrid-style (idempotent)."""
    ns, n = namespace(vm), VifNames(port_id)
    netns.add(ns)
    if not netns.link_exists(n.tap):
        procs.run(["ip", "link", "add", n.tap, "type", "veth", "peer", "name", "eth0", "netns", ns])
    netns.ip(ns, "link", "set", "eth0", "address", mac, "mtu", str(mtu), "up")
    if not netns.link_exists(n.qbr):
        procs.run(["ip", "link", "add", n.qbr, "type", "bridge", "forward_delay", "0", "stp_state", "0"])
    if not netns.link_exists(n.qvb):
        procs.run(["ip", "link", "add", n.qvb, "type", "veth", "peer", "name", n.qvo])
    for dev in (n.tap, n.qvb, n.qvo):
        procs.run(["ip", "link", "set", dev, "mtu", str(mtu)])
    for dev in (n.tap, n.qvb):
        procs.run(["ip", "link", "set", dev, "master", n.qbr])
    for dev in (n.qbr, n.tap, n.qvb, n.qvo):
        procs.run(["ip", "link", "set", dev, "up"])
    for dev in (n.tap, n.qvb, n.qvo):
        ovs.disable_tx_offload(dev)
    ovs.disable_tx_offload("eth0", ns)
    ovs.add_port(
        ovs.INTEGRATION_BRIDGE,
        n.qvo,
        f"external-ids:iface-id={port_id}",
        "external-ids:iface-status=active",
        f"external-ids:attached-mac={mac}",
        f"external-ids:vm-uuid={device_id}",
    )


def dhcp_client(vm: str) -> Daemon:
    # Stays in the foreground renewing the lease like a VM's client; retries
    # every second (-A 1) rather than the default 20 s while dnsmasq catches up.
    return Daemon(
        name=f"udhcpc-{vm}",
        argv=[
            "ip",
            "netns",
            "exec",
            namespace(vm),
            "busybox",
            "udhcpc",
            "-f",
            "-i",
            "eth0",
            "-t",
            "5",
            "-T",
            "1",
            "-A",
            "1",
            "-O",
            "mtu",
            "-s",
            str(UDHCPC_SCRIPT),
        ],
    )


def dhcp(vm: str, timeout: float = 60.0) -> str | None:
    """Start VM `vm`'s DHCP client and wait for its address; the address, or None."""
    UDHCPC_SCRIPT.write_text(_SCRIPT)
    UDHCPC_SCRIPT.chmod(0o755)
    procs.start(dhcp_client(vm))
    return address(vm) if procs.wait_for(lambda: bool(address(vm)), timeout) else None


def address(vm: str) -> str | None:
    addrs = netns.ipv4_addresses(namespace(vm), "eth0") if netns.exists(namespace(vm)) else []
    return addrs[0].split("/")[0] if addrs else None


def unplug(vm: str, port_id: str | None = None) -> None:
    """Remove VM `vm`'s namespace and, if the port id is known, its bridge and veths."""
    procs.stop(dhcp_client(vm).name)
    if port_id:
        n = VifNames(port_id)
        if procs.read_pid("ovsdb-server") is not None:
            ovs.vsctl("--if-exists", "del-port", ovs.INTEGRATION_BRIDGE, n.qvo, check=False)
        for dev in (n.qvb, n.tap, n.qbr):
            netns.delete_link(dev)
    netns.delete(namespace(vm))


def ping(ns: str, target: str, timeout: float = 90.0) -> bool:
    """Ping `target` from namespace `ns` until one reply comes back or `timeout` passes."""
    return procs.wait_for(
        lambda: netns.execute(ns, "ping", "-c", "1", "-W", "1", target, timeout=5).returncode == 0,
        timeout,
        interval=0.2,
    )
