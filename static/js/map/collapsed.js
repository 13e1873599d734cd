/* The physical view at scale (issue 13): above config.collapseAboveHosts hosts or
 * config.collapseAboveNodes physical nodes the map loads the collapsed form
 * (GET topology/?view=physical&collapsed=1: hosts with counts and state, tunnels per host pair),
 * fetches a host's content when it is expanded (GET topology/hosts/<host>/), drops it when
 * collapsed again, and searches through the API (GET topology/search/?q=).
 *
 * state.collapsed is null while the whole view is loaded, else { expanded: Set of host ids }.
 * A delta touching a collapsed host moves its counts and state; one touching an expanded host
 * is applied as usual (filterDelta). Names only ever reach the page through .text().
 */
import { request } from "../lib/net.js";
import { config, state } from "./store.js";

const COUNTED = { iface: "interfaces", netns: "namespaces", bridge: "bridges", port: "ports" };
const WITH_HOST = new Set(["iface", "netns", "bridge"]);
const QUARANTINE_MARK = "could not be joined"; // topology/quarantine.py's warning, as topology/collapsed.py reads it

export const hostOfId = (id) => {
  const [kind, rest] = [id.slice(0, id.indexOf(":")), id.slice(id.indexOf(":") + 1)];
  if (kind === "host") return rest;
  return WITH_HOST.has(kind) ? rest.slice(0, rest.indexOf(":")) : null;
};
const hostId = (host) => "host:" + host;

function isLarge(totals) {
  return !!totals && (totals.hosts > config.collapseAboveHosts || totals.nodes > config.collapseAboveNodes);
}

// The physical view as the map loads it: the collapsed form when it is large, else the whole view.
export async function fetchPhysical() {
  const answer = await request(config.api + "?view=physical&collapsed=1");
  if (!answer.ok || !answer.data) return answer;
  if (!isLarge(answer.data.totals)) {
    state.collapsed = null;
    return request(config.api + "?view=physical");
  }
  const expanded = state.collapsed ? state.collapsed.expanded : new Set();
  state.collapsed = { expanded: new Set() };
  // hosts expanded before this load are fetched again once it is drawn (afterLoad)
  state.collapsed.reexpand = Array.from(expanded);
  return answer;
}

async function fetchHost(id) {
  const url = config.api + "hosts/" + encodeURIComponent(id.slice(5)) + "/?view=physical";
  const answer = await request(url);
  return answer.ok && answer.data ? answer.data : null;
}

function putContent(id, content) {
  for (const n of content.nodes) if (n.id !== id && n.kind !== "host") state.nodes.set(n.id, n);
  for (const e of content.edges) {
    if (state.nodes.has(e.source) && state.nodes.has(e.target)) state.edges.set(e.source + "|" + e.target + "|" + e.kind, e);
  }
}

// Expand a collapsed host: its content fetched and put in the store; false if it cannot be had.
export async function expandHost(id) {
  if (!state.collapsed || !state.nodes.has(id)) return false;
  if (state.collapsed.expanded.has(id)) return true;
  let content = await fetchHost(id);
  // read before a delta the store has since applied (and dropped for this host, collapsed then): again
  if (content && content.revision < state.revision) content = await fetchHost(id);
  if (!content || !state.collapsed) return false;
  state.collapsed.expanded.add(id);
  putContent(id, content);
  return true;
}

export function collapseHost(id) {
  if (!state.collapsed) return;
  state.collapsed.expanded.delete(id);
  const host = id.slice(5);
  for (const [nid, n] of state.nodes) if (n.host === host && nid !== id) state.nodes.delete(nid);
  for (const [k, e] of state.edges) if (!state.nodes.has(e.source) || !state.nodes.has(e.target)) state.edges.delete(k);
}

// The hosts expanded before a reload, expanded again (their content at the new revision).
export async function afterLoad() {
  if (!state.collapsed || !state.collapsed.reexpand) return false;
  const again = state.collapsed.reexpand;
  state.collapsed.reexpand = null;
  let any = false;
  for (const id of again) any = (await expandHost(id)) || any;
  return any;
}

export const isExpanded = (id) => !!state.collapsed && state.collapsed.expanded.has(id);

function hostState(n) {
  const warnings = (n.attrs && n.attrs.warnings) || [];
  if (warnings.some((w) => String(w).includes(QUARANTINE_MARK))) return "quarantined";
  if (n.status === "STALE" || (n.attrs && n.attrs.stale)) return "stale";
  return "up";
}

// Host node `n` (from a delta, or as drawn) with the counts drawn moved by `change` (a copy).
function counted(n, drawn, change) {
  const counts = { interfaces: 0, namespaces: 0, bridges: 0, ports: 0, warnings: 0, ...((drawn && drawn.attrs.collapsed) || {}) };
  for (const [k, v] of Object.entries(change)) counts[k] = Math.max(0, counts[k] + v);
  const before = ((drawn && drawn.attrs.warnings) || []).length;
  counts.warnings = Math.max(0, counts.warnings + ((n.attrs && n.attrs.warnings) || []).length - before);
  counts.state = hostState(n);
  return { ...n, attrs: { ...n.attrs, collapsed: counts } };
}

// The delta as the collapsed map applies it: what it adds or removes on a host moves the host's
// counts; only an expanded host's content is put in the store.
export function filterDelta(msg) {
  if (!state.collapsed) return msg;
  const change = new Map(); // host -> {interfaces: +1, ...}
  const bump = (host, key, by) => {
    if (!host || !key) return;
    if (!change.has(host)) change.set(host, {});
    const c = change.get(host);
    c[key] = (c[key] || 0) + by;
  };
  // a port's host, for a project member's ports (no binding host): the device it binds
  const portHost = new Map();
  for (const e of msg.removed.edges.concat(msg.added.edges)) {
    if (e.kind === "binds" && e.source.startsWith("port:")) portHost.set(e.source, hostOfId(e.target));
  }
  for (const n of msg.added.nodes) if (n.kind !== "host") bump(n.host || portHost.get(n.id), COUNTED[n.kind], 1);
  for (const id of msg.removed.nodes) {
    const kind = id.slice(0, id.indexOf(":"));
    if (kind !== "host") bump(kind === "port" ? portHost.get(id) : hostOfId(id), COUNTED[kind], -1);
  }
  const hosts = new Map();
  for (const n of msg.added.nodes.concat(msg.changed.nodes)) if (n.kind === "host") hosts.set(n.id, n);
  for (const host of change.keys()) {
    const id = hostId(host);
    if (!hosts.has(id) && state.nodes.has(id)) hosts.set(id, state.nodes.get(id));
  }
  const hostNodes = Array.from(hosts, ([id, n]) => counted(n, state.nodes.get(id), change.get(id.slice(5)) || {}));
  const shown = (n) => n.kind !== "host" && isExpanded(hostId(n.host));
  return {
    ...msg,
    removed: { nodes: msg.removed.nodes.filter((id) => state.nodes.has(id)), edges: msg.removed.edges },
    changed: { ...msg.changed, nodes: msg.changed.nodes.filter(shown).concat(hostNodes) },
    added: { nodes: msg.added.nodes.filter(shown), edges: msg.added.edges },
  };
}

// The host's counts as a box's subtitle (a collapsed host has no children to count).
export function countsText(n) {
  const c = n.attrs && n.attrs.collapsed;
  if (!c) return null;
  const parts = [c.interfaces + " ifaces", c.namespaces + " netns", c.bridges + " bridges", c.ports + " ports"];
  if (c.warnings) parts.push(c.warnings + " warnings");
  if (c.state && c.state !== "up") parts.push(c.state);
  return parts.join(", ");
}

// Search through the API: [{id, kind, label, host, focus?}] (the answer to the latest query only).
let asked = 0;
export async function searchRemote(query) {
  const q = query.trim();
  if (!q) return [];
  const mine = ++asked;
  const answer = await request(config.api + "search/?q=" + encodeURIComponent(q));
  if (mine !== asked) return null; // a later query is on its way
  return answer.ok && answer.data ? answer.data.results : [];
}

// What to show for a search result: its host expanded, then the node the physical map draws for it.
export async function focusTarget(result) {
  if (result.host && state.nodes.has(hostId(result.host))) await expandHost(hostId(result.host));
  for (const id of [result.focus, result.id, result.host ? hostId(result.host) : null]) if (id && state.nodes.has(id)) return id;
  return null;
}
