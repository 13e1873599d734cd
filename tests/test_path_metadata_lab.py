"""Metadata and DNS on the real lab (allinone, legacy router): each verdict against a real request
from the VM's namespace.

Metadata: the L3 agent's proxy (haproxy in qrouter), Neutron's metadata agent, and a stand-in for
Nova's metadata API on 127.0.0.1 (there is no Nova in the lab: lab/scripts/nova_metadata.py checks
Neutron's X-Instance-ID-Signature with the shared secret and answers instance-id, as Nova would).
A real GET of http://169.254.169.254/latest/meta-data/instance-id from the VM namespace must
return the VM's server id when the explainer says ok, and fail when it says broken (the proxy
killed with the L3 agent stopped, so that nothing respawns it; the metadata agent stopped).

DNS: the lab's subnet has no dns_nameservers, so DHCP hands out the DHCP port's address; its
dnsmasq runs with --no-resolv and no --server: no upstream. A real query from the VM namespace
gets the VM's own name answered and any other refused, never sent off the machine.
"""

from __future__ import annotations

import socket
import struct
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.broken_states import wait_until
from tests.test_path_lab import fresh_graph, server
from topology.api import StoredReports
from topology.path import explain
from topology.path.metadata import METADATA_IP

pytestmark = [pytest.mark.lab, pytest.mark.django_db]

JsonDict = dict[str, Any]
VM = "ubuntu-01"
INSTANCE_ID_URL = f"http://{METADATA_IP}/latest/meta-data/instance-id"


@pytest.fixture
def metadata_lab(lab: JsonDict) -> JsonDict:
    """The lab with the metadata path on (a lab another checkout started may lack it) and served."""
    from lab import metadata

    metadata.ensure()
    assert wait_until(lambda: fetch_instance_id(VM) == lab["vms"][VM]["server_id"], 180), "metadata never answered"
    return lab


def in_vm(vm: str, *argv: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    from lab import vm as vms

    return subprocess.run(
        ["ip", "netns", "exec", vms.namespace(vm), *argv], capture_output=True, text=True, timeout=timeout
    )


def fetch_instance_id(vm: str) -> str | None:
    """A real HTTP GET from the VM's namespace; its body on 200, else None."""
    res = in_vm(vm, "curl", "-s", "-f", "-m", "8", INSTANCE_ID_URL)
    return res.stdout.strip() if res.returncode == 0 else None


def explained(lab: JsonDict, dst: str) -> JsonDict:
    return explain(fresh_graph(lab), StoredReports(), server(lab, VM), dst)


def codes(result: JsonDict) -> list[str]:
    return [p["code"] for p in result["problems"]]


def test_metadata_through_the_router_is_explained_then_fetched(metadata_lab: JsonDict) -> None:
    result = explained(metadata_lab, METADATA_IP)
    assert (result["verdict"], result["scenario"]) == ("ok", "to-metadata"), result["problems"]
    assert result["problems"] == []
    router = metadata_lab["routers"]["router1"]["id"]
    redirect = next(h for h in result["hops"] if "REDIRECT" in h["what"])
    assert redirect["node"].endswith(f"qrouter-{router}") and "--to-ports 9697" in redirect["evidence"]
    proxy = next(h for h in result["hops"] if "haproxy" in h["what"])
    assert f"ns-metadata-proxy/{router}.conf" in proxy["evidence"]
    assert not any("br-ex" in h["node"] or ":qg-" in h["node"] for h in result["hops"])
    # the same question, really asked: the stand-in answers only a request Neutron signed
    assert fetch_instance_id(VM) == metadata_lab["vms"][VM]["server_id"]


@pytest.fixture
def proxy_killed(metadata_lab: JsonDict) -> Iterator[JsonDict]:
    """router1's haproxy killed while the L3 agent is stopped (its process monitor would respawn it);
    restored by starting the L3 agent again, which spawns the proxy on its sync."""
    from lab import neutron, procs

    router = metadata_lab["routers"]["router1"]["id"]
    agent = next(d for d in neutron.agent_daemons() if d.name == "neutron-l3-agent")
    procs.stop(agent.name)
    try:
        pids = [p for p in procs.all_pids() if f"ns-metadata-proxy/{router}.conf" in " ".join(procs.cmdline(p))]
        assert pids, "router1 has no haproxy to kill"
        procs.kill(pids)
        yield metadata_lab
    finally:
        procs.start(agent)
        assert wait_until(lambda: fetch_instance_id(VM) == metadata_lab["vms"][VM]["server_id"], 240), "not restored"


def test_no_proxy_in_the_qrouter_is_broken_and_the_get_fails(proxy_killed: JsonDict) -> None:
    result = explained(proxy_killed, METADATA_IP)
    assert (result["verdict"], codes(result)) == ("broken", ["metadata_no_proxy"]), result["problems"]
    router = proxy_killed["routers"]["router1"]["id"]
    assert f"no metadata proxy (haproxy) runs in qrouter-{router}" in result["problems"][0]["message"]
    assert fetch_instance_id(VM) is None


@pytest.fixture
def metadata_agent_stopped(metadata_lab: JsonDict) -> Iterator[JsonDict]:
    """Neutron's metadata agent stopped until Neutron reports it dead (agent_down_time); restarted after."""
    from lab import keystone, metadata, neutron, procs

    admin = neutron.client(keystone.ADMIN)
    procs.stop(metadata.AGENT_NAME)
    try:
        dead = wait_until(lambda: not neutron.agents_alive(admin, types=(metadata.AGENT_TYPE,)), 240)
        assert dead, "Neutron still reports the stopped metadata agent alive"
        yield metadata_lab
    finally:
        metadata.ensure()  # starts what is not running and waits until Neutron reports it alive
        assert wait_until(lambda: fetch_instance_id(VM) == metadata_lab["vms"][VM]["server_id"], 180), "not restored"


def test_a_dead_metadata_agent_is_broken_and_the_get_fails(metadata_agent_stopped: JsonDict) -> None:
    result = explained(metadata_agent_stopped, METADATA_IP)
    assert (result["verdict"], codes(result)) == ("broken", ["metadata_agent_down"]), result["problems"]
    assert "metadata agent on controller is dead" in result["problems"][0]["message"]
    assert fetch_instance_id(VM) is None


# --------------------------------------------------------------------------- DNS


def dns_query(vm: str, server: str, name: str) -> tuple[int, list[str]] | None:
    """A real A query from the VM's namespace (python's socket, no resolver library): (rcode, addresses),
    None when nothing answered (the first packet on a new path is often lost: asked up to 3 times)."""
    code = (
        "import socket,struct,sys\n"
        "s,n=sys.argv[1],sys.argv[2]\n"
        "q=struct.pack('>HHHHHH',0x4e4d,0x0100,1,0,0,0)+b''.join(bytes([len(p)])+p.encode() for p in n.split('.'))"
        "+b'\\0'+struct.pack('>HH',1,1)\n"
        "k=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);k.settimeout(3);k.sendto(q,(s,53))\n"
        "print(k.recv(512).hex())\n"
    )
    for _ in range(3):
        res = in_vm(vm, "python3", "-c", code, server, name)
        if res.returncode == 0 and res.stdout.strip():
            return parse_answer(bytes.fromhex(res.stdout.strip()), len(name) + 2 + 4)
    return None


def parse_answer(data: bytes, question_length: int) -> tuple[int, list[str]]:
    rcode, answers = data[3] & 0xF, struct.unpack(">H", data[6:8])[0]
    found, offset = [], 12 + question_length
    for _ in range(answers):
        offset += 2  # a compressed name pointer to the question
        rtype, _cls, _ttl, length = struct.unpack(">HHIH", data[offset : offset + 10])
        offset += 10
        if rtype == 1 and length == 4:
            found.append(socket.inet_ntoa(data[offset : offset + 4]))
        offset += length
    return rcode, found


def test_dns_without_an_upstream_is_diagnosed_and_so_answers(lab: JsonDict) -> None:
    result = explained(lab, "dns")
    assert (result["scenario"], result["probe"], result["dst"]["kind"]) == ("to-dns", "UDP/53", "dns")
    assert (result["verdict"], codes(result)) == ("broken", ["dns_no_upstream"]), result["problems"]
    resolver = str(result["dst"]["ip"])
    network = lab["networks"]["private"]
    assert result["hops"][-1]["node"].endswith(f"qdhcp-{network}")
    own = str(lab["vms"][VM]["ip"])
    # the network's own names: answered by dnsmasq itself
    assert dns_query(VM, resolver, f"host-{own.replace('.', '-')}.openstacklocal") == (0, [own])
    # any other: refused (no upstream), the query never leaves the qdhcp namespace
    assert dns_query(VM, resolver, "example.com") == (5, [])
