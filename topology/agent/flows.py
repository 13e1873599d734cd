"""OpenFlow tables per bridge with `ovs-ofctl dump-flows` (n_packets included).

Neutron's OVS agent restricts its bridges' ``protocols`` (e.g. to
OpenFlow10,OpenFlow13 or OpenFlow13 only); ovs-ofctl speaks OpenFlow 1.0 by
default and fails version negotiation on a bridge without it. So the
bridge's own ``protocols`` are passed with ``-O`` when set, and a dump that
still fails on negotiation is retried with OpenFlow13+.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

OFCTL = "ovs-ofctl"
FALLBACK_PROTOCOLS = "OpenFlow10,OpenFlow13,OpenFlow14,OpenFlow15"
TIMEOUT_S = 30.0


@dataclass
class FlowDump:
    flows: dict[str, list[str]]
    errors: list[str]


def flow_lines(text: str) -> list[str]:
    """The flow lines of a dump: reply headers (NXST_FLOW/OFPST_FLOW) dropped, flows verbatim but stripped."""
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("NXST_FLOW", "OFPST_FLOW")):
            continue
        lines.append(stripped)
    return lines


def _command(bridge: str, protocols: Sequence[str]) -> list[str]:
    command = [OFCTL]
    if protocols:
        command += ["-O", ",".join(protocols)]
    return [*command, "dump-flows", bridge]


class FlowDumps:
    """`ovs-ofctl dump-flows` of every bridge, running while the agent reads namespaces."""

    def __init__(self, bridges: dict[str, Sequence[str]]) -> None:
        """``bridges``: bridge name -> the bridge's OVSDB ``protocols``."""
        self.result = FlowDump(flows={}, errors=[])
        self._running: dict[str, subprocess.Popen[bytes]] = {}
        for name, protocols in bridges.items():
            process = self._spawn(name, protocols)
            if process is not None:
                self._running[name] = process

    def _spawn(self, name: str, protocols: Sequence[str]) -> subprocess.Popen[bytes] | None:
        try:
            return subprocess.Popen(_command(name, protocols), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:  # ovs-ofctl not installed
            self.result.errors.append(f"flows {name}: {exc}")
            return None

    def finish(self) -> FlowDump:
        for name, process in self._running.items():
            out, err, code = _wait(process)
            if code != 0 and "version negotiation failed" in err:
                retry = self._spawn(name, [FALLBACK_PROTOCOLS])
                if retry is None:
                    continue
                out, err, code = _wait(retry)
            if code != 0:
                self.result.errors.append(f"flows {name}: {err.strip()[:200] or f'ovs-ofctl exited {code}'}")
                continue
            self.result.flows[name] = flow_lines(out)
        self._running = {}
        return self.result


def _wait(process: subprocess.Popen[bytes]) -> tuple[str, str, int]:
    try:
        out, err = process.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return "", f"ovs-ofctl timed out after {TIMEOUT_S:.0f} s", -1
    return out.decode(errors="replace"), err.decode(errors="replace"), process.returncode
