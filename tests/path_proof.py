"""Proof that an explained path is the one packets take: what the outside host captures, and counters.

The explainer names the NAT rule (with its `iptables-save -c` counters) and the qg-/fg- device a
packet leaves on; a capture on the outside host's eth0 must show echo requests from exactly that
device's MAC and that rule's address, and the rule's packet counter must grow with the ping.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

JsonDict = dict[str, Any]


def nat_hop(result: JsonDict) -> JsonDict:
    """The hop whose evidence is the SNAT rule the packet leaves by."""
    return next(h for h in result["hops"] if "-j SNAT" in h["evidence"] and "--to-source" in h["evidence"])


def snat_address(result: JsonDict) -> str:
    found = re.search(r"--to-source (\d+\.\d+\.\d+\.\d+)", nat_hop(result)["evidence"])
    assert found, nat_hop(result)
    return found.group(1)


def nat_packets(result: JsonDict) -> int:
    """The packet counter `iptables-save -c` gave the SNAT rule ("[pkts:bytes] -A ...")."""
    found = re.search(r"\[(\d+):\d+\][^|]*-j SNAT", nat_hop(result)["evidence"])
    assert found, nat_hop(result)["evidence"]
    return int(found.group(1))


def exit_mac(result: JsonDict, graph: JsonDict) -> str:
    """The MAC of the last qg-/fg- device the explainer says the packet leaves on."""
    exits = [h["node"] for h in result["hops"] if re.search(r":(qg|fg)-[0-9a-f]", h["node"])]
    assert exits, [h["node"] for h in result["hops"]]
    node = next(n for n in graph["nodes"] if n["id"] == exits[-1])
    return str(node["attrs"]["mac"])


def outside_sees_the_explained_exit(result: JsonDict, graph: JsonDict, send: Callable[[], object]) -> None:
    """Capture at the outside host while `send()` pings it: the source is the explained device and rule."""
    from lab import capture

    seen = capture.icmp_sources(send)
    assert (exit_mac(result, graph), snat_address(result)) in seen, seen
