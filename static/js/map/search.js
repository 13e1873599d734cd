/* Search by name, id, IP, MAC or CIDR over the loaded nodes (exact matches first). The terms of a
 * node are here, so that a search answered by the API (issue 13) can replace search() alone.
 */
import { state } from "./store.js";

export function searchTerms(n) {
  const a = n.attrs || {};
  const terms = [n.id, n.label, a.name, a.mac, a.mac_address, a.cidr, a.floating_ip_address, a.fixed_ip_address, a.describe];
  for (const ip of a.fixed_ips || []) terms.push(ip.ip_address);
  for (const addr of a.addresses || []) { terms.push(addr); terms.push(String(addr).split("/")[0]); }
  return terms.filter(Boolean).map((t) => String(t).toLowerCase());
}

// The nodes of `pool` matching `query`: [exact, partial] (lists of nodes, unsorted).
export function matches(pool, query, keep) {
  const exact = [], partial = [];
  for (const n of pool) {
    if (keep && !keep(n)) continue;
    const terms = searchTerms(n);
    if (terms.includes(query)) exact.push(n);
    else if (terms.some((t) => t.includes(query))) partial.push(n);
  }
  return [exact, partial];
}

export function search(query) {
  const q = query.trim().toLowerCase();
  if (!q) return [];
  const [exact, partial] = matches(state.nodes.values(), q);
  // an IP names its port (logical) or its interface (physical) before anything merely mentioning it
  const rank = { port: 0, iface: 0, fip: 1, server: 2, router: 3, network: 4, subnet: 5 };
  exact.sort((a, b) => (rank[a.kind] ?? 9) - (rank[b.kind] ?? 9));
  return exact.concat(partial).slice(0, 12);
}
