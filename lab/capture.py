"""What reaches the outside host: the source MAC and IP of ICMP echo requests on its eth0.

    seen = capture.icmp_sources(lambda: api.ping("vm01", "192.168.1.1"))
    # {("fa:16:3e:..", "192.168.1.77"), ...}: the router's qg- MAC and the SNAT/FIP address

A raw packet socket in the `outside` namespace (no tcpdump needed), run as a
subprocess under `ip netns exec`.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

from lab import hosts, netns, ovs, procs, vm

_SCRIPT = r"""
import socket, sys, time
dev, dst, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.bind((dev, 0))
s.settimeout(0.2)
print("ready", flush=True)
want = socket.inet_aton(dst)
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    try:
        frame = s.recv(2048)
    except socket.timeout:
        continue
    if len(frame) < 42 or frame[12:14] != b"\x08\x00" or frame[23] != 1 or frame[30:34] != want:
        continue
    ihl = (frame[14] & 0x0F) * 4
    if frame[14 + ihl] != 8:  # echo request
        continue
    mac = ":".join(f"{b:02x}" for b in frame[6:12])
    print(mac, socket.inet_ntoa(frame[26:30]), flush=True)
"""


def _capture(argv: list[str], send: Callable[[], object], seconds: float, where: str) -> str:
    """Start the capture script `argv`, wait for its "ready", run `send()`, return what it printed."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"capture {where} did not start")
        send()
        out, _ = proc.communicate(timeout=seconds + 10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return out


def icmp_sources(
    send: Callable[[], object],
    ns: str = ovs.OUTSIDE_NS,
    dev: str = "eth0",
    dst: str = ovs.OUTSIDE_IP,
    seconds: float = 8.0,
) -> set[tuple[str, str]]:
    """Run `send()` while capturing; the (source MAC, source IP) of echo requests to `dst` seen on `dev`."""
    out = _capture(
        ["ip", "netns", "exec", ns, sys.executable, "-c", _SCRIPT, dev, dst, str(seconds)], send, seconds, f"in {ns}"
    )
    return {(line.split()[0], line.split()[1]) for line in out.splitlines() if len(line.split()) == 2}


_VXLAN_SCRIPT = r"""
import socket, struct, sys, time
dev, seconds = sys.argv[1], float(sys.argv[2])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
s.bind((dev, 0))
s.settimeout(0.2)
print("ready", flush=True)
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    try:
        frame, addr = s.recvfrom(2048)
    except socket.timeout:
        continue
    if addr[2] != socket.PACKET_OUTGOING or len(frame) < 14 + 20 + 8 + 8 + 34:
        continue
    if frame[12:14] != b"\x08\x00" or frame[23] != 17:
        continue
    ihl = (frame[14] & 0x0F) * 4
    udp = 14 + ihl
    if struct.unpack("!H", frame[udp + 2:udp + 4])[0] != 4789:
        continue
    vni = int.from_bytes(frame[udp + 12:udp + 15], "big")
    inner = frame[udp + 16:]
    if inner[12:14] != b"\x08\x00" or inner[23] != 1 or inner[14 + (inner[14] & 0x0F) * 4] != 8:
        continue  # only the inner ICMP echo requests
    mac = ":".join(f"{b:02x}" for b in inner[6:12])
    print(vni, mac, socket.inet_ntoa(inner[26:30]), socket.inet_ntoa(inner[30:34]), flush=True)
"""


def vxlan_echo_requests(send: Callable[[], object], dev: str, seconds: float = 8.0) -> set[tuple[int, str, str, str]]:
    """Run `send()` while capturing the VXLAN packets that leave on `dev` (a host's underlay link,
    in host 1's root namespace); for each inner ICMP echo request: (VNI, inner source MAC,
    inner source IP, inner destination IP)."""
    out = _capture([sys.executable, "-c", _VXLAN_SCRIPT, dev, str(seconds)], send, seconds, f"on {dev}")
    seen: set[tuple[int, str, str, str]] = set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) == 4:
            seen.add((int(fields[0]), fields[1], fields[2], fields[3]))
    return seen


def wait_source(vm_name: str, expected: str, host: str = hosts.CONTROLLER, timeout: float = 90) -> None:
    """The outside host sees `vm_name`'s pings (its namespace on `host`) come from `expected` alone: its
    floating IP, or its router's gateway address (SNAT)."""
    seen: set[str] = set()

    def send() -> None:
        with procs.view(hosts.view(host)):
            netns.execute(vm.namespace(vm_name), "ping", "-c", "2", "-i", "0.3", "-W", "1", ovs.OUTSIDE_IP, timeout=10)

    def right() -> bool:
        nonlocal seen
        seen = {ip for _, ip in icmp_sources(send, seconds=2)}
        return seen == {expected}

    if not procs.wait_for(right, timeout, interval=1):
        raise RuntimeError(f"{vm_name}'s pings reach the outside as {seen or 'nothing'}, not {expected}")
