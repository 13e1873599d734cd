"""`iptables-save -c` per namespace: the SNAT/DNAT rules and their counters.

Running iptables-save in each of 1,000 namespaces costs seconds, so the
agent runs it only where it can tell something: before running, it asks the
namespace's nf_tables over netlink whether any table exists and what the
ruleset generation is (``NFT_MSG_GETGEN``, bumped by every ruleset change in
that namespace), and checks ``/proc/thread-self/net/ip_tables_names`` for
tables of the legacy backend. A namespace without tables (a ``qdhcp-`` or a
lab VM namespace) gets empty text without a process; one whose nf_tables
generation is unchanged since the last collection reuses the last text
(rule *counters* then come from that last run: the periodic resync runs
with ``fresh=True`` to refresh them). The processes that are needed are
spawned from inside the namespace with setns (no ``ip netns exec``, which
would also remount /sys) and run in parallel, bounded.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
from collections import deque
from dataclasses import dataclass, field

from topology.agent.netlink import NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, entered
from topology.report import Iptables

NETLINK_NETFILTER = 12
NFNL_SUBSYS_NFTABLES = 10
NFT_MSG_NEWTABLE = 0
NFT_MSG_GETTABLE = 1
NFT_MSG_NEWGEN = 15
NFT_MSG_GETGEN = 16
NFTA_GEN_ID = 1
NFNLGRP_NFTABLES = 7

IPTABLES_SAVE = ("iptables-save", "-c")
IP6TABLES_SAVE = ("ip6tables-save", "-c")
# nf_tables table families that filter IPv6 packets (an "inet" table holds both families' rules)
NFPROTO_INET = 1
IPV6_TABLE_FAMILIES = frozenset({socket.AF_INET6, NFPROTO_INET})
TIMEOUT_S = 30.0

_HEADER = struct.Struct("=IHHII")
_NFGEN = struct.pack("=BBH", socket.AF_UNSPEC, 0, 0)


def empty() -> Iptables:
    return {"nat": "", "filter": ""}


@dataclass(frozen=True)
class Probe:
    """What a namespace's netfilter holds, seen without running a process."""

    has_tables: bool
    generation: int | None  # nf_tables generation; None when caching is unsafe (legacy tables)
    has_tables6: bool = False  # IPv6 tables (ip6tables' legacy ones, or nf_tables ip6/inet)
    generation6: int | None = None


def netfilter_socket(groups: int = 0) -> socket.socket:
    """A NETLINK_NETFILTER socket in the calling thread's current namespace."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_NETFILTER)
    sock.bind((0, groups))
    return sock


def probe() -> Probe:
    """Probe the calling thread's current namespace (call it inside :func:`entered`)."""
    legacy, legacy6 = _legacy_tables(), _legacy_tables("ip6_tables_names")
    try:
        with netfilter_socket() as sock:
            generation = _nft_generation(sock)
            families = _nft_table_families(sock)
    except OSError:
        # No nf_tables in this kernel: only the legacy answer counts.
        return Probe(has_tables=legacy, generation=None, has_tables6=legacy6)
    return Probe(
        has_tables=legacy or bool(families),
        generation=None if legacy else generation,
        has_tables6=legacy6 or bool(families & IPV6_TABLE_FAMILIES),
        generation6=None if legacy6 else generation,
    )


def _legacy_tables(names_file: str = "ip_tables_names") -> bool:
    try:
        with open(f"/proc/thread-self/net/{names_file}") as names:
            return bool(names.read().strip())
    except OSError:  # module ip_tables not loaded: no legacy tables anywhere
        return False


def _nft_request(sock: socket.socket, msg: int, flags: int, seq: int) -> list[tuple[int, bytes]]:
    msg_type = (NFNL_SUBSYS_NFTABLES << 8) | msg
    sock.send(_HEADER.pack(_HEADER.size + len(_NFGEN), msg_type, NLM_F_REQUEST | flags, seq, 0) + _NFGEN)
    replies: list[tuple[int, bytes]] = []
    while True:
        data = sock.recv(65536)
        offset = 0
        while offset + _HEADER.size <= len(data):
            length, reply_type, _flags, reply_seq, _pid = _HEADER.unpack_from(data, offset)
            if length < _HEADER.size:
                return replies
            chunk = data[offset : offset + length]
            offset += (length + 3) & ~3
            if reply_seq != seq:
                continue
            if reply_type == NLMSG_DONE:
                return replies
            if reply_type == NLMSG_ERROR:
                (code,) = struct.unpack_from("=i", chunk, _HEADER.size)
                if code:
                    raise OSError(-code, os.strerror(-code))
                return replies
            replies.append((reply_type & 0xFF, chunk))
            if not flags & NLM_F_DUMP:
                return replies


def _nft_generation(sock: socket.socket) -> int | None:
    for msg, chunk in _nft_request(sock, NFT_MSG_GETGEN, 0, 1):
        if msg == NFT_MSG_NEWGEN:
            return _attr_u32_be(chunk[_HEADER.size + len(_NFGEN) :], NFTA_GEN_ID)
    return None


def _nft_table_families(sock: socket.socket) -> set[int]:
    """The families of the namespace's nf_tables tables (each reply's nfgenmsg.nfgen_family)."""
    return {
        chunk[_HEADER.size]
        for msg, chunk in _nft_request(sock, NFT_MSG_GETTABLE, NLM_F_DUMP, 2)
        if msg == NFT_MSG_NEWTABLE and len(chunk) > _HEADER.size
    }


def _attr_u32_be(attrs: bytes, wanted: int) -> int | None:
    offset = 0
    while offset + 4 <= len(attrs):
        length, attr_type = struct.unpack_from("=HH", attrs, offset)
        if length < 4:
            return None
        if attr_type & 0x3FFF == wanted and length >= 8:
            return int(struct.unpack_from(">I", attrs, offset + 4)[0])
        offset += (length + 3) & ~3
    return None


def split_tables(text: str) -> Iptables:
    """Cut `iptables-save` output into one text per table, comments dropped.

    The "# Generated by ... on <date>" comments change on every run and would
    make every report differ; the rules and their [packets:bytes] counters
    are kept verbatim.
    """
    tables: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if line.startswith("*"):
            current = tables.setdefault(line[1:].strip(), [])
        if current is not None:
            current.append(line)
        if line == "COMMIT":
            current = None
    texts = {name: "\n".join(lines) + "\n" for name, lines in tables.items()}
    result = empty()
    result["nat"] = texts.get("nat", "")
    result["filter"] = texts.get("filter", "")
    if "mangle" in texts:
        result["mangle"] = texts["mangle"]
    if "raw" in texts:
        result["raw"] = texts["raw"]
    return result


@dataclass
class _Running:
    key: str
    process: subprocess.Popen[bytes]


@dataclass
class IptablesCollector:
    """Runs iptables-save (``family`` 6: ip6tables-save) where needed, in parallel; remembers texts by generation."""

    family: int = 4
    max_parallel: int = max(2, (os.cpu_count() or 1) * 2)
    cache: dict[int, tuple[int, Iptables]] = field(default_factory=dict)  # ns inode -> (generation, text)
    results: dict[str, Iptables] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)  # keys iptables-save ran for in this collection
    _running: deque[_Running] = field(default_factory=deque)
    _pending_cache: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def save(self) -> tuple[str, ...]:
        return IPTABLES_SAVE if self.family == 4 else IP6TABLES_SAVE

    @property
    def spawned(self) -> int:
        return len(self.ran)

    def begin(self) -> None:
        """Start a new collection: results and errors are per collection, the cache is not."""
        self.results = {}
        self.errors = []
        self.ran = []
        self._pending_cache = {}

    def plan(self, key: str, inode: int, found: Probe, fresh: bool) -> bool:
        """Settle ``key`` from the probe or the cache; True if iptables-save must run."""
        has, generation = (
            (found.has_tables, found.generation) if self.family == 4 else (found.has_tables6, found.generation6)
        )
        if not has:
            self.results[key] = empty()
            return False
        cached = self.cache.get(inode)
        if not fresh and generation is not None and cached and cached[0] == generation:
            self.results[key] = cached[1]
            return False
        if generation is not None:
            self._pending_cache[key] = (inode, generation)
        return True

    def start(self, key: str, ns_fd: int, root_fd: int) -> None:
        """Spawn iptables-save inside namespace ``ns_fd`` (the child inherits the thread's namespace)."""
        while len(self._running) >= self.max_parallel:
            self._finish(self._running.popleft())
        try:
            with entered(ns_fd, root_fd):
                process = subprocess.Popen(self.save, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:  # not installed: the rest of the report is still worth sending
            self._fail(key, f"{self.save[0]} could not run: {exc.strerror or exc}")
            return
        self.ran.append(key)
        self._running.append(_Running(key, process))

    def finish(self) -> dict[str, Iptables]:
        while self._running:
            self._finish(self._running.popleft())
        return self.results

    def _finish(self, running: _Running) -> None:
        try:
            out, err = running.process.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            running.process.kill()
            running.process.communicate()
            self._fail(running.key, f"{self.save[0]} timed out after {TIMEOUT_S:.0f} s")
            return
        if running.process.returncode != 0:
            self._fail(running.key, f"{self.save[0]} failed: {err.decode(errors='replace').strip()[:200]}")
            return
        tables = split_tables(out.decode(errors="replace"))
        self.results[running.key] = tables
        pending = self._pending_cache.pop(running.key, None)
        if pending:
            self.cache[pending[0]] = (pending[1], tables)

    def _fail(self, key: str, message: str) -> None:
        self.results[key] = empty()
        self._pending_cache.pop(key, None)
        self.errors.append(f"{'iptables' if self.family == 4 else 'ip6tables'} {key}: {message}")

    def forget_except(self, inodes: set[int]) -> None:
        """Drop cache entries of namespaces that no longer exist."""
        for inode in set(self.cache) - inodes:
            del self.cache[inode]
