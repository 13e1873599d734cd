"""Benchmark of the packet-path explainer on the synthetic cloud (1,000 hosts, 20,000 ports).

    .venv/bin/python -m bench.path [--hosts 1000] [--ports 20000] [--pairs 200] [--cold 10] [--profile]

The synthetic cloud (bench/synthetic.py) has routers without a gateway port and no floating
IPs; this script adds, without editing it: each router's gateway port (qg- in its qrouter
namespace, tap on br-int), br-ex with a port to the outside on the network nodes, and a floating
IP for every tenth VM port with its SNAT/DNAT rules in the router's namespace. Then it times,
on random pairs (a third each of VM -> outside, VM -> VM and outside -> floating IP):

- ``explain_in`` on the indexed graph (``Topo``) built once, as the API does once per revision:
  ``--pairs`` pairs, p50/p95 against the target p95 <= 50 ms, and what building ``Topo`` costs;
- ``explain`` as a standalone call, which builds ``Topo`` for each path: ``--cold`` pairs.

``--profile`` prints where the time of 3 standalone explanations goes (cProfile, cumulative).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import statistics
import time
from typing import Any

from bench.synthetic import JsonDict, iface, mac, ovs_iface, synthetic_cloud, uid
from topology.join import join
from topology.path import Topo, explain, explain_in

OUTSIDE = "192.168.0.1"
TARGET_P95_MS = 50.0


def add_gateways_and_fips(cloud: JsonDict, reports: dict[str, JsonDict], fip_every: int = 10) -> int:
    """Gateway ports, br-ex and floating IPs on the synthetic cloud; returns the number of floating IPs."""
    public = uid("net", "public")
    public_subnet = uid("subnet", "public")
    routers = {r["id"]: r for r in cloud["routers"]}
    namespaces = {ns["name"]: (host, ns) for host, rep in reports.items() for ns in rep["namespaces"]}
    gateway_ip: dict[str, str] = {}
    for p, router_id in enumerate(routers):
        ns_host, ns = namespaces[f"qrouter-{router_id}"]
        gw_port, ip = uid("port", "gw", p), f"192.168.{1 + p // 250}.{1 + p % 250}"
        gateway_ip[router_id] = ip
        routers[router_id]["external_gateway_info"]["external_fixed_ips"] = [
            {"subnet_id": public_subnet, "ip_address": ip}
        ]
        cloud["ports"].append(
            {
                "id": gw_port,
                "network_id": public,
                "device_owner": "network:router_gateway",
                "device_id": router_id,
                "project_id": "",
                "status": "ACTIVE",
                "binding:host_id": ns_host,
                "mac_address": mac(3_000_000 + p),
                "fixed_ips": [{"subnet_id": public_subnet, "ip_address": ip}],
            }
        )
        ns["interfaces"].append(
            iface(f"qg-{gw_port[:11]}", "veth", peer=f"tap{gw_port[:11]}", addresses=[f"{ip}/16"], n=3_000_000 + p)
        )
        ns["routes"] = [{"dst": "default", "gateway": OUTSIDE, "dev": f"qg-{gw_port[:11]}"}]
        ns["iptables"]["nat"] = (
            f"*nat\n[0:0] -A neutron-l3-agent-snat -o qg-{gw_port[:11]} -j SNAT "
            f"--to-source {ip} --random-fully\nCOMMIT\n"
        )
        report = reports[ns_host]
        report["interfaces"].append(
            iface(f"tap{gw_port[:11]}", "veth", peer=f"qg-{gw_port[:11]}", peer_netns=f"qrouter-{router_id}")
        )
        report["ovs"]["bridges"][0]["ports"].append(
            {
                "name": f"tap{gw_port[:11]}",
                "tag": 4001,
                "interfaces": [ovs_iface(f"tap{gw_port[:11]}", external_ids={"iface-id": gw_port})],
            }
        )
    for report in reports.values():
        if not any(ns["name"].startswith("qrouter-") for ns in report["namespaces"]):
            continue
        bridges = report["ovs"]["bridges"]
        bridges[0]["ports"].append(
            {
                "name": "int-br-ex",
                "tag": None,
                "interfaces": [ovs_iface("int-br-ex", kind="patch", options={"peer": "phy-br-ex"})],
            }
        )
        bridges.append(
            {
                "name": "br-ex",
                "datapath_type": "netdev",
                "fail_mode": "secure",
                "ports": [
                    {
                        "name": "phy-br-ex",
                        "tag": None,
                        "interfaces": [ovs_iface("phy-br-ex", kind="patch", options={"peer": "int-br-ex"})],
                    },
                    {"name": "eth1", "tag": None, "interfaces": [ovs_iface("eth1")]},
                ],
            }
        )
        report["interfaces"].append(iface("eth1", "physical", master="ovs-system"))
        report["ovs"]["flows"]["br-ex"] = []
    add_network_node_tunnels(reports)
    vm_ports = [p for p in cloud["ports"] if p["device_owner"].startswith("compute:")]
    fips = 0
    for n, port in enumerate(vm_ports[::fip_every]):
        router_id = next(r for r in routers if uid("net", int(routers[r]["name"].split("-")[1])) == port["network_id"])
        fixed = port["fixed_ips"][0]["ip_address"]
        address = f"192.168.{100 + n // 250}.{1 + n % 250}"
        cloud["floatingips"].append(
            {
                "id": uid("fip", n),
                "floating_ip_address": address,
                "fixed_ip_address": fixed,
                "floating_network_id": public,
                "port_id": port["id"],
                "router_id": router_id,
                "project_id": port["project_id"],
                "status": "ACTIVE",
            }
        )
        _, ns = namespaces[f"qrouter-{router_id}"]
        rules = ns["iptables"]["nat"].removesuffix("COMMIT\n")
        ns["iptables"]["nat"] = rules + (
            f"[0:0] -A neutron-l3-agent-PREROUTING -d {address}/32 -j DNAT --to-destination {fixed}\n"
            f"[0:0] -A neutron-l3-agent-float-snat -s {fixed}/32 -j SNAT --to-source {address} --random-fully\n"
            "COMMIT\n"
        )
        for qg in ns["interfaces"]:
            if qg["name"].startswith("qg-"):
                qg["addresses"].append(f"{address}/32")
        fips += 1
    for rule_sg in {p.get("security_groups", [""])[0] for p in vm_ports}:
        cloud["security_group_rules"].append(
            {
                "id": uid("rule", rule_sg),
                "security_group_id": rule_sg,
                "direction": "ingress",
                "ethertype": "IPv4",
                "protocol": "icmp",
                "remote_ip_prefix": "0.0.0.0/0",
            }
        )
    return fips


def add_network_node_tunnels(reports: dict[str, JsonDict]) -> None:
    """Every host tunnels to the network nodes and back (l2population: they have a port on every network)."""
    network_nodes = [
        h for h, rep in reports.items() if any(ns["name"].startswith("qrouter-") for ns in rep["namespaces"])
    ]
    for host, report in reports.items():
        for other in network_nodes if host not in network_nodes else list(reports):
            if other == host:
                continue
            remote = reports[other]["tunnel_ip"]
            name = "vxlan-" + "".join(f"{int(o):02x}" for o in remote.split("."))
            br_tun = report["ovs"]["bridges"][1]
            if any(p["name"] == name for p in br_tun["ports"]):
                continue
            br_tun["ports"].append(
                {
                    "name": name,
                    "tag": None,
                    "interfaces": [
                        ovs_iface(
                            name,
                            kind="vxlan",
                            options={
                                "remote_ip": remote,
                                "local_ip": report["tunnel_ip"],
                                "key": "flow",
                                "in_key": "flow",
                                "out_key": "flow",
                            },
                        )
                    ],
                }
            )


def pairs(graph: JsonDict, count: int, seed: int = 1) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    servers = [n["id"] for n in graph["nodes"] if n["kind"] == "server"]
    project_of = {n["id"]: n.get("project_id") for n in graph["nodes"] if n["kind"] == "server"}
    by_project: dict[Any, list[str]] = {}
    for server in servers:
        by_project.setdefault(project_of[server], []).append(server)
    fips = [n["attrs"]["floating_ip_address"] for n in graph["nodes"] if n["kind"] == "fip"]
    out = []
    for i in range(count):
        kind = ("vm-outside", "vm-vm", "outside-fip")[i % 3]
        if kind == "vm-outside":
            out.append((kind, rng.choice(servers), OUTSIDE))
        elif kind == "vm-vm":
            src = rng.choice(servers)  # a VM of the same project (one network per project)
            out.append((kind, src, rng.choice([s for s in by_project[project_of[src]] if s != src] or [src])))
        else:
            out.append((kind, OUTSIDE, rng.choice(fips)))
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--ports", type=int, default=20000)
    parser.add_argument("--projects", type=int, default=500)
    parser.add_argument("--network-nodes", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--cold", type=int, default=10, help="standalone explain() calls (each builds Topo)")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    cloud, reports = synthetic_cloud(args.hosts, args.ports, args.projects, args.network_nodes)
    fips = add_gateways_and_fips(cloud, reports)
    graph: dict[str, Any] = join(cloud, reports).to_dict()
    print(
        f"synthetic cloud: {args.hosts} hosts, {args.ports} ports, {args.projects} projects, {fips} floating IPs; "
        f"graph {len(graph['nodes'])} nodes, {len(graph['edges'])} edges"
    )
    chosen = pairs(graph, args.pairs)
    started = time.perf_counter()
    topo = Topo(graph, {})
    print(f"Topo (the indexed graph, built once per revision by the API): {time.perf_counter() - started:.2f} s")
    times: dict[str, list[float]] = {}
    verdicts: dict[str, dict[str, int]] = {}
    for kind, src, dst in chosen:
        started = time.perf_counter()
        result = explain_in(topo.with_reports(reports), src, dst)
        times.setdefault(kind, []).append((time.perf_counter() - started) * 1000)
        label = f"{result['scenario']}/{result['verdict']}"
        if result["problems"]:
            label += "(" + ",".join(sorted({pr["code"] for pr in result["problems"]})) + ")"
        verdicts.setdefault(kind, {})[label] = verdicts.setdefault(kind, {}).get(label, 0) + 1
    every = [t for ts in times.values() for t in ts]
    for kind, ts in times.items():
        print(
            f"  {kind:12s} n={len(ts):3d} p50 {statistics.median(ts):7.1f} ms  p95 {percentile(ts, 0.95):7.1f} ms  "
            f"{verdicts[kind]}"
        )
    p95 = percentile(every, 0.95)
    print(
        f"explain_in on the built Topo, {len(every)} pairs: p50 {statistics.median(every):.1f} ms, p95 {p95:.1f} ms, "
        f"max {max(every):.1f} ms (target p95 <= {TARGET_P95_MS:.0f} ms: {p95 / TARGET_P95_MS:.2f}x of target; "
        f"load average {os.getloadavg()[0]:.1f})"
    )
    cold = []
    for _, src, dst in chosen[: args.cold]:
        started = time.perf_counter()
        explain(graph, reports, src, dst)
        cold.append((time.perf_counter() - started) * 1000)
    if cold:
        print(
            f"explain (builds Topo per call), {len(cold)} pairs: p50 {statistics.median(cold):.0f} ms, "
            f"max {max(cold):.0f} ms"
        )
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _, src, dst in chosen[:3]:
            explain(graph, reports, src, dst)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(12)


if __name__ == "__main__":
    main()
