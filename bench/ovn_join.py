"""Benchmark of OVN collection and join (issue 17): a synthetic ML2/OVN cloud in REAL OVN databases.

    .venv/bin/python -m bench.ovn_join [--hosts 1000] [--ports 20000] [--projects 200] [--repeat 3]

The Neutron side is bench/synthetic.py's cloud with OVN's agents in place of the OVS, L3 and DHCP ones
and a gateway port per router. The OVN side is written into a real NB (ovsdb-server) as Neutron's OVN
driver writes it: a switch ``neutron-<network>`` per network with a Logical_Switch_Port per port (the
router's interface as a ``router`` port), a router ``neutron-<router>`` with its ``lrp-`` ports, its
gateway port on the gateway chassis and a SNAT rule, a port group per security group; a real SB with
one Chassis per host (``chassis-add``: geneve, the host's tunnel IP, its hostname) and every VM port
bound to its host's chassis (``lsp-bind``); ovn-northd computes the Port_Bindings in between. Each
host reports what an OVN chassis's agent says (br-int with the VM's tap and its iface-id, the ``ovn``
section).

Prints, against the ML2/OVS join's targets (<= 1 s, <= 500 MB; bench/join.py):

- the build of the databases (not a target: what it took northd);
- the collection (``collect_ovn``: both databases read whole, as each cloud refresh does), wall and CPU
  time, median and max of --repeat runs, and the snapshot's size;
- the cold join with the OVN snapshot (no cache), without and with the chassis's reports;
- the peak memory of one cold join (tracemalloc).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.synthetic import empty_report, iface, ovs_iface, synthetic_cloud, uid
from lab.ovn_dbs import OvnDbs, ovn_databases
from topology.join import join
from topology.kinds import OVN_SNAPSHOT_KEY, AgentType
from topology.ovn.collect import OvnRemotes, collect_ovn

JsonDict = dict[str, Any]
TARGET_S = 1.0
TARGET_MB = 500.0
CHUNK = 2000  # ovn-nbctl/ovn-sbctl commands per invocation (one transaction each)
GATEWAYS = 3  # hosts with enable-chassis-as-gw


def ovn_cloud(hosts: int, ports: int, projects: int) -> tuple[JsonDict, dict[str, JsonDict], list[str]]:
    """The Neutron snapshot, the chassis's reports, and the host names (gateways first)."""
    cloud, _ = synthetic_cloud(hosts, ports, projects, network_nodes=1)
    names = sorted({a["host"] for a in cloud["agents"]})
    cloud["agents"] = [
        {"id": uid("agent", host, "ovn"), "host": host, "binary": "ovn-controller", "alive": True,
         "admin_state_up": True, "configurations": {},
         "agent_type": AgentType.OVN_CONTROLLER_GATEWAY if i < GATEWAYS else AgentType.OVN_CONTROLLER}
        for i, host in enumerate(names)
    ]  # fmt: skip
    cloud["ports"] = [p for p in cloud["ports"] if p["device_owner"] != "network:dhcp"]  # OVN's DHCP: no port
    taken: dict[str, int] = {}
    for port in cloud["ports"]:
        if port["device_owner"] == "network:router_interface":
            port["binding:host_id"] = ""  # a logical router port: bound to no host on ML2/OVN
        elif port["device_owner"] == "compute:nova":  # one address each (the NB refuses a duplicate)
            fixed = port["fixed_ips"][0]
            k = taken[fixed["subnet_id"]] = taken.get(fixed["subnet_id"], 9) + 1
            fixed["ip_address"] = fixed["ip_address"].rsplit(".", 1)[0] + f".{k}"
            assert k < 255, "more VM ports per project than a /24 holds: raise --projects"
    public = next(n["id"] for n in cloud["networks"] if n.get("router:external"))
    for r, router in enumerate(cloud["routers"]):
        cloud["ports"].append(
            {"id": uid("port", "gw", r), "network_id": public, "device_owner": "network:router_gateway",
             "device_id": router["id"], "project_id": "", "status": "ACTIVE", "binding:host_id": names[r % GATEWAYS],
             "mac_address": f"fa:16:3f:{r >> 16 & 255:02x}:{r >> 8 & 255:02x}:{r & 255:02x}",
             "fixed_ips": [{"subnet_id": uid("subnet", "public"),
                            "ip_address": f"192.168.{r + 10 >> 8 & 255}.{r + 10 & 255}"}]}
        )  # fmt: skip
    reports = {host: chassis_report(host, i) for i, host in enumerate(names)}
    for port in cloud["ports"]:
        if port["device_owner"] == "compute:nova":
            report = reports[port["binding:host_id"]]
            name = f"tap{port['id'][:11]}"
            report["interfaces"].append(iface(name, "tun"))
            report["ovs"]["bridges"][0]["ports"].append(
                {"name": name, "tag": None, "interfaces": [ovs_iface(name, external_ids={
                    "iface-id": port["id"], "attached-mac": port["mac_address"], "iface-status": "active"})]}
            )  # fmt: skip
    return cloud, reports, names


def chassis_report(host: str, i: int) -> JsonDict:
    report = empty_report(host, i)
    bridges = report["ovs"]["bridges"]
    bridges[0]["ports"], report["ovs"]["bridges"], report["ovs"]["flows"] = [], bridges[:1], {"br-int": []}
    report["ovn"] = {
        "chassis": {"system_id": f"chassis-{host}", "remote": "tcp:127.0.0.1:6642", "encap_type": "geneve",
                    "encap_ip": report["tunnel_ip"], "hostname": host,
                    "bridge_mappings": {"external": "br-ex"} if i < GATEWAYS else {},
                    "cms_options": ["enable-chassis-as-gw"] if i < GATEWAYS else []},
        "controller": {"connection": "connected", "error": None},
    }  # fmt: skip
    return report


def nb_commands(cloud: JsonDict, names: list[str]) -> Iterator[list[str]]:
    """What Neutron's OVN driver writes, as ovn-nbctl commands."""
    for net in cloud["networks"]:
        ls = f"neutron-{net['id']}"
        yield ["ls-add", ls]
        yield ["set", "Logical_Switch", ls, f'external_ids:"neutron:network_name"="{net["name"]}"']
    for sg in cloud["security_groups"]:
        yield ["pg-add", f"pg_{sg['id'].replace('-', '_')}"]
    for port in cloud["ports"]:
        ls, pid, ip = f"neutron-{port['network_id']}", port["id"], port["fixed_ips"][0]["ip_address"]
        yield ["lsp-add", ls, pid]
        if port["device_owner"] in ("network:router_interface", "network:router_gateway"):
            yield ["lsp-set-type", pid, "router"]
            yield ["lsp-set-addresses", pid, "router"]
            yield ["lsp-set-options", pid, f"router-port=lrp-{pid}"]
        else:
            yield ["lsp-set-addresses", pid, f"{port['mac_address']} {ip}"]
    for r, router in enumerate(cloud["routers"]):
        lr = f"neutron-{router['id']}"
        yield ["lr-add", lr]
        for port in cloud["ports"]:
            if port["device_id"] == router["id"]:
                prefix = "24" if port["device_owner"] == "network:router_interface" else "16"
                ip = port["fixed_ips"][0]["ip_address"]
                yield ["lrp-add", lr, f"lrp-{port['id']}", port["mac_address"], f"{ip}/{prefix}"]
                if port["device_owner"] == "network:router_gateway":
                    yield ["lrp-set-gateway-chassis", f"lrp-{port['id']}", f"chassis-{names[r % GATEWAYS]}", "1"]
                    yield ["lr-nat-add", lr, "snat", ip, f"10.{r >> 8 & 255}.{r & 255}.0/24"]


def sb_commands(cloud: JsonDict, reports: dict[str, JsonDict]) -> Iterator[list[str]]:
    for host, report in reports.items():
        chassis = report["ovn"]["chassis"]
        yield ["chassis-add", chassis["system_id"], "geneve", chassis["encap_ip"]]
        yield ["set", "Chassis", chassis["system_id"], f"hostname={host}"]


def bind_commands(cloud: JsonDict) -> Iterator[list[str]]:
    """Each VM port claimed by its host's chassis, each gateway (cr-lrp-) by its gateway chassis."""
    for port in cloud["ports"]:
        if port["device_owner"] == "compute:nova":
            yield ["lsp-bind", port["id"], f"chassis-{port['binding:host_id']}"]
        elif port["device_owner"] == "network:router_gateway":
            yield ["lsp-bind", f"cr-lrp-{port['id']}", f"chassis-{port['binding:host_id']}"]


def run_batched(dbs: OvnDbs, tool: str, commands: Iterator[list[str]]) -> int:
    """Every command, CHUNK per invocation (each a transaction); returns how many."""
    remote = dbs.nb if tool == "ovn-nbctl" else dbs.sb
    count, batch = 0, list[str]()
    for command in commands:
        batch += (["--"] if batch else []) + command
        count += 1
        if count % CHUNK == 0:
            _ctl(dbs, tool, remote, batch)
            batch = []
    if batch:
        _ctl(dbs, tool, remote, batch)
    return count


def _ctl(dbs: OvnDbs, tool: str, remote: str, batch: list[str]) -> None:
    wait = ["--no-wait"] if tool == "ovn-nbctl" else []
    done = subprocess.run([tool, f"--db={remote}", *wait, *batch], env=dbs.env(), capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{tool}: {done.stderr.strip()[:500]}")


def build(dbs: OvnDbs, cloud: JsonDict, reports: dict[str, JsonDict], names: list[str]) -> int:
    """The NB and SB of the cloud, its ports bound once northd made their Port_Bindings; commands run."""
    written = run_batched(dbs, "ovn-nbctl", nb_commands(cloud, names))
    written += run_batched(dbs, "ovn-sbctl", sb_commands(cloud, reports))
    wait_bindings(dbs, len(cloud["ports"]) + len(cloud["routers"]))  # a cr-lrp- per gateway
    return written + run_batched(dbs, "ovn-sbctl", bind_commands(cloud))


def bindings(dbs: OvnDbs) -> int:
    return len(dbs.sbctl("--bare", "--columns=logical_port", "list", "Port_Binding").split())


def wait_bindings(dbs: OvnDbs, expected: int, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while bindings(dbs) < expected:
        if time.monotonic() > deadline:
            raise RuntimeError(f"northd made {bindings(dbs)} of {expected} Port_Bindings in {timeout:g} s")
        time.sleep(2)


def timed(runs: int, run: Callable[[], Any]) -> tuple[list[float], list[float]]:
    wall, cpu = [], []
    for _ in range(runs):
        gc.collect()
        started, started_cpu = time.perf_counter(), time.process_time()
        run()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return wall, cpu


def line(what: str, wall: list[float], cpu: list[float]) -> str:
    med = statistics.median(wall)
    return (f"{what}: wall median {med:.3f} s (max {max(wall):.3f}), CPU median {statistics.median(cpu):.3f} s "
            f"({med / TARGET_S:.2f}x of the {TARGET_S:g} s target)")  # fmt: skip


def peak_mb(run: Callable[[], Any]) -> float:
    gc.collect()
    tracemalloc.start()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--ports", type=int, default=20000)
    parser.add_argument("--projects", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cloud, reports, names = ovn_cloud(args.hosts, args.ports, args.projects)
    print(f"synthetic ML2/OVN cloud: {args.hosts} chassis, {len(cloud['ports'])} ports, {args.projects} projects")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory(prefix="bench-ovn-") as root, ovn_databases(Path(root)) as dbs:
        started = time.perf_counter()
        written = build(dbs, cloud, reports, names)
        print(f"databases built: {written} commands, {bindings(dbs)} Port_Bindings, "
              f"{time.perf_counter() - started:.1f} s (northd included; not a target)")  # fmt: skip
        remotes = OvnRemotes(dbs.nb, dbs.sb, timeout=120)
        snapshot = collect_ovn(remotes)
        assert not snapshot["errors"], snapshot["errors"]
        size = len(json.dumps(snapshot)) / 1e6
        print(line(f"collection (collect_ovn, both databases whole; snapshot {size:.1f} MB of JSON)",
                   *timed(args.repeat, lambda: collect_ovn(remotes))))  # fmt: skip
    cloud[OVN_SNAPSHOT_KEY] = snapshot
    graph = join(cloud, reports)
    warned = sum(1 for n in graph.nodes.values() if n["attrs"].get("warnings"))
    print(f"graph: {len(graph.nodes)} nodes, {len(graph.edges)} edges, {warned} nodes with warnings")
    said = sorted({w for n in graph.nodes.values() for w in n["attrs"].get("warnings", [])})
    for warning in said[:5]:
        print(f"  e.g. {warning[:160]}")
    print(line("cold join with the OVN snapshot, no reports", *timed(args.repeat, lambda: join(cloud, {}))))
    print(line("cold join with the OVN snapshot and every chassis's report",
               *timed(args.repeat, lambda: join(cloud, reports))))  # fmt: skip
    mb = peak_mb(lambda: join(cloud, reports))
    print(f"peak memory (tracemalloc): cold join {mb:.0f} MB ({mb / TARGET_MB:.2f}x of the {TARGET_MB:g} MB target)")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
