/* What is drawn: each node's parent (container), the collapsed containers and the node drawn
 * for each node (itself or its nearest collapsed ancestor), the links between drawn nodes and
 * the focus neighbourhood. A collapsed host whose content comes later (per-host fetch) is a
 * host with no children here: the model does not care where the children came from.
 */
import { config, state } from "./store.js";
import { LINK_STYLE } from "./style.js";

function physicalParents(edges) {
  const parent = new Map();
  const rank = { host: 0, netns: 1, bridge: 2 };
  for (const e of edges) {
    if (e.kind !== "member") continue;
    const src = state.nodes.get(e.source);
    if (!src || !(src.kind in rank)) continue;
    const cur = parent.get(e.target);
    if (!cur || rank[src.kind] > rank[state.nodes.get(cur).kind]) parent.set(e.target, e.source);
  }
  return parent;
}

function logicalParents(edges) {
  const parent = new Map();
  const serverOfPort = new Map();
  for (const e of edges) {
    if (e.kind === "member" && state.nodes.get(e.source).kind === "network") parent.set(e.target, e.source);
    else if (e.kind === "member" && state.nodes.get(e.source).kind === "router") parent.set(e.target, e.source);
    else if (e.kind === "router_interface") parent.set(e.target, e.source);
    else if (e.kind === "runs") {
      parent.set(e.target, e.source);
      serverOfPort.set(e.target, e.source);
    }
  }
  for (const e of edges) {
    if (e.kind === "nat" && serverOfPort.has(e.target)) parent.set(e.source, serverOfPort.get(e.target));
  }
  for (const e of edges) {
    // an unassociated floating IP sits in its external network
    if (e.kind === "on_network" && state.nodes.get(e.source).kind === "fip" && !parent.has(e.source)) {
      parent.set(e.source, e.target);
    }
  }
  return parent;
}

export function defaultCollapsed(n, nodeCount) {
  return n.kind === "host" && nodeCount > config.collapseHostsAbove;
}

export const isCollapsible = (n) => n.kind === "host" || n.kind === "bridge";

export function isCollapsed(n, nodeCount) {
  // the collapsed physical view (collapsed.js): a host is drawn alone until expanded
  if (state.collapsed && n.kind === "host") return !state.collapsed.expanded.has(n.id);
  return isCollapsible(n) && defaultCollapsed(n, nodeCount) !== state.toggled.has(n.id);
}

export function depthOf(id, parent) {
  let d = 0;
  for (let p = parent.get(id); p; p = parent.get(p)) d++;
  return d;
}

// The drawn links: graph edges with a style, folded onto the nodes drawn for their ends and counted.
function drawnLinks(edges, parent, standFor) {
  const hasGatewayPort = new Set();
  for (const e of edges) {
    if (e.kind === "on_network" && state.nodes.get(e.source).kind === "port" && parent.has(e.source)) {
      const owner = state.nodes.get(parent.get(e.source));
      if (owner && owner.kind === "router") hasGatewayPort.add(owner.id + "|" + e.target);
    }
  }
  const links = new Map();
  for (const e of edges) {
    if (!LINK_STYLE[e.kind]) continue;
    if (e.kind === "gateway" && hasGatewayPort.has(e.source + "|" + e.target)) continue;
    if (e.kind === "on_network" && state.nodes.get(e.source).kind === "fip") continue;
    const a = standFor(e.source), b = standFor(e.target);
    if (a === b) continue;
    const key = a < b ? a + "|" + b + "|" + e.kind : b + "|" + a + "|" + e.kind;
    const link = links.get(key);
    if (link) link.count += 1;
    else links.set(key, { key, source: a, target: b, kind: e.kind, count: 1 });
  }
  return Array.from(links.values());
}

export function buildModel() {
  const view = state.view;
  const edges = Array.from(state.edges.values());
  const parent = view === "physical" ? physicalParents(edges) : logicalParents(edges);
  const children = new Map();
  for (const [c, p] of parent) {
    if (!state.nodes.has(p)) continue;
    if (!children.has(p)) children.set(p, []);
    children.get(p).push(c);
  }
  const count = state.nodes.size;
  // the drawn node standing for each node: itself, or its nearest collapsed ancestor
  const shown = new Map();
  const standFor = (id) => {
    if (shown.has(id)) return shown.get(id);
    let result = id;
    const chain = [];
    for (let p = parent.get(id); p; p = parent.get(p)) chain.push(p);
    for (let i = chain.length - 1; i >= 0; i--) {
      if (isCollapsed(state.nodes.get(chain[i]), count)) { result = chain[i]; break; }
    }
    shown.set(id, result);
    return result;
  };
  const visible = [];
  for (const n of state.nodes.values()) if (standFor(n.id) === n.id) visible.push(n);
  const links = drawnLinks(edges, parent, standFor);
  const adjacency = new Map();
  const adj = (a, b) => {
    if (!adjacency.has(a)) adjacency.set(a, new Set());
    adjacency.get(a).add(b);
  };
  for (const l of links) { adj(l.source, l.target); adj(l.target, l.source); }
  for (const n of visible) {
    const p = parent.get(n.id);
    if (p && state.nodes.has(p)) { adj(n.id, p); adj(p, n.id); }
  }
  const visibleIds = new Set(visible.map((n) => n.id));
  const kidsShown = (id) => (children.get(id) || []).filter((c) => visibleIds.has(c));
  return { view, parent, children, visible, visibleIds, links, adjacency, count, kidsShown, standFor };
}

// The focused node, its neighbours up to state.hops away and their containers; null without focus.
export function focusSet(model) {
  if (!state.focus || !model.visibleIds.has(state.focus)) return null;
  const seen = new Set([state.focus]);
  let frontier = [state.focus];
  for (let i = 0; i < state.hops; i++) {
    const next = [];
    for (const id of frontier) for (const o of model.adjacency.get(id) || []) if (!seen.has(o)) { seen.add(o); next.push(o); }
    frontier = next;
  }
  // keep the containers of what is in focus, so the picture still says where things are
  for (const id of Array.from(seen)) for (let p = model.parent.get(id); p; p = model.parent.get(p)) seen.add(p);
  return seen;
}
