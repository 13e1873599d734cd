/* The packet path's state (GET /api/v1/path/) and its endpoints: a VM, a port, a floating IP or
 * any IP. When the map shows the physical view, the logical graph's VMs, ports and floating IPs
 * are loaded aside so that they can be offered while typing.
 */
import { state, fetchGraph } from "./store.js";
import { matches } from "./search.js";

export const PATH_API = document.getElementById("path-panel").dataset.api || "/api/v1/path/";

export const path = {
  src: { value: "", label: "" },
  dst: { value: "", label: "" },
  probe: "icmp",
  result: null,
  error: null,
  loading: false,
  again: false,
  timer: null,
  requests: 0,
  logical: null, // {revision, nodes: Map} for the endpoint search when the map shows the physical view
  logicalLoading: null,
  fitNext: false,
  hashTransform: false, // a permalink with a zoom keeps its zoom
  showReturn: true, // draw return_hops (when the API gives them) on the map
  verifyNext: false, // the next request asks the nodes' tracers too (verify=1): once, on the button
};

export function firstAddress(addresses) {
  for (const addr of addresses || []) {
    const ip = String(addr).split("/")[0];
    if (ip && !ip.startsWith("127.") && ip !== "::1" && !ip.startsWith("fe80")) return ip;
  }
  return null;
}

// The endpoint a drawn node stands for (an id the path API resolves, or an IP), or null.
export function endpointOf(n) {
  if (!n) return null;
  const a = n.attrs || {};
  if (n.kind === "server" || n.kind === "port" || n.kind === "fip") return n.id;
  if (n.kind === "iface") {
    if (a.port_id) return "port:" + a.port_id;
    return firstAddress(a.addresses);
  }
  if (n.kind === "netns" && a.role === "vm" && state.model) {
    for (const c of state.model.children.get(n.id) || []) {
      const ip = firstAddress((state.nodes.get(c).attrs || {}).addresses);
      if (ip) return ip;
    }
  }
  return null;
}

export const looksLikeIp = (s) => /^\d{1,3}(\.\d{1,3}){3}$/.test(s) || (/^[0-9a-f:]+$/i.test(s) && s.includes(":") && s.split(":").length > 2);

function endpointNodes() {
  if (state.view === "logical") return state.nodes;
  return path.logical && path.logical.nodes;
}

export async function loadLogical() {
  if (state.view === "logical") return;
  if (path.logical && path.logical.revision === state.revision) return;
  if (path.logicalLoading) return path.logicalLoading;
  path.logicalLoading = (async () => {
    try {
      const answer = await fetchGraph("logical");
      if (!answer.ok || !answer.data) return;
      const nodes = new Map();
      for (const n of answer.data.nodes) if (n.kind === "server" || n.kind === "port" || n.kind === "fip") nodes.set(n.id, n);
      path.logical = { revision: answer.data.revision, nodes };
    } catch (err) {
      console.warn("map: the endpoint list did not load", err);
    } finally {
      path.logicalLoading = null;
    }
  })();
  return path.logicalLoading;
}

export function endpointLabel(n) {
  const a = n.attrs || {};
  if (n.kind === "server") return n.label + " (VM)";
  if (n.kind === "fip") return (a.floating_ip_address || n.label) + " (floating IP)";
  const ips = (a.fixed_ips || []).map((ip) => ip.ip_address).filter(Boolean);
  const name = a.name || n.label; // a port's label is its address; its name says more
  return name + (ips.length && !ips.includes(name) ? " (port " + ips.join(", ") + ")" : " (port)");
}

export function labelOfEndpoint(value) {
  const pool = endpointNodes();
  const n = (pool && pool.get(value)) || state.nodes.get(value);
  return n ? endpointLabel(n) : value;
}

export function searchEndpoints(query) {
  const q = query.trim().toLowerCase();
  const out = [];
  if (!q) return out;
  if (looksLikeIp(q)) out.push({ value: q, label: q + " (IP address)", kind: "IP" });
  const pool = endpointNodes();
  if (!pool) return out;
  const rank = { server: 0, fip: 1, port: 2 };
  const [exact, partial] = matches(pool.values(), q, (n) => n.kind in rank);
  const byRank = (a, b) => rank[a.kind] - rank[b.kind] || d3.ascending(a.label, b.label);
  for (const n of exact.sort(byRank).concat(partial.sort(byRank)).slice(0, 12)) {
    out.push({ value: n.id, label: endpointLabel(n), kind: n.kind === "server" ? "VM" : n.kind === "fip" ? "floating IP" : "port" });
  }
  return out;
}

export function setEndpoint(which, value, label) {
  path[which] = { value, label: label || labelOfEndpoint(value) };
  document.getElementById("path-" + which).value = path[which].label;
}
