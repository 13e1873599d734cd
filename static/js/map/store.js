/* The map's state: the graph of one view (nodes, edges, revision) as loaded from REST and moved
 * on by the websocket's deltas, and what the user chose (view, selection, focus, collapsed hosts).
 * A delta is applied only on top of the revision it was computed from (live.js checks `base`).
 */
import { request } from "../lib/net.js";

export const config = JSON.parse(document.getElementById("map-config").textContent);
// Served by the map view (topology/vocabulary.py): scenario labels, symmetric walks, tunnel types.
export const vocabulary = config.vocabulary || { scenarios: {}, tunnel_types: [] };

export const LOGICAL = new Set(["network", "subnet", "port", "router", "fip", "server"]);
export const PHYSICAL = new Set(["host", "netns", "bridge", "iface"]);

export const state = {
  view: config.view,
  revision: 0,
  nodes: new Map(),
  edges: new Map(),
  positions: new Map(),
  toggled: new Set(), // containers whose collapse state differs from the default
  selected: null,
  focus: null,
  hops: 2,
  model: null,
  loadedView: null, // the view whose graph state.nodes holds (state.view changes at the click, before the load)
  drawnView: null, // the loaded view, once drawn
  renderer: "svg",
  transform: d3.zoomIdentity,
  loading: false,
  buffer: [],
  fresh: new Set(),
  collapsed: null, // the collapsed physical view's state (collapsed.js), null while the whole view is loaded
};
export const stats = { applied: [], draws: 0, lastDrawMs: 0, firstDrawnAt: null, wsFrames: 0 };

export const edgeKey = (e) => e.source + "|" + e.target + "|" + e.kind;
export const kindsOf = (view) => (view === "physical" ? PHYSICAL : LOGICAL);

// GET the topology of `view`: {status, ok, data}.
export function fetchGraph(view) {
  return request(config.api + "?view=" + encodeURIComponent(view));
}

// Adds (or replaces) nodes of this view and the edges between nodes the store holds; returns the
// node ids put. The REST load, the deltas and a later per-host fetch (a collapsed host's content) share it.
export function mergeGraph(nodes, edges) {
  const kinds = kindsOf(state.view);
  const touched = new Set();
  for (const n of nodes) {
    if (!kinds.has(n.kind)) continue;
    state.nodes.set(n.id, n);
    touched.add(n.id);
  }
  for (const e of edges) if (state.nodes.has(e.source) && state.nodes.has(e.target)) state.edges.set(edgeKey(e), e);
  return touched;
}

export function loadGraph(data) {
  state.nodes = new Map();
  state.edges = new Map();
  mergeGraph(data.nodes, data.edges);
  state.revision = data.revision;
}

// Applies one delta to the store; returns the ids of the nodes it added or changed.
export function applyDelta(msg) {
  for (const e of msg.removed.edges) state.edges.delete(edgeKey(e));
  for (const id of msg.removed.nodes) {
    state.nodes.delete(id);
    state.positions.delete(id);
  }
  const touched = mergeGraph(msg.added.nodes.concat(msg.changed.nodes), msg.added.edges);
  for (const [k, e] of state.edges) if (!state.nodes.has(e.source) || !state.nodes.has(e.target)) state.edges.delete(k);
  state.revision = msg.revision;
  return touched;
}
