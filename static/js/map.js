/* The live map (templates/map.html): d3 v7, no build chain.
 *
 * Data: GET /api/v1/topology/?view=... then deltas over /ws/topology/; a delta
 * is applied when its `base` is our revision, otherwise we resync from REST.
 * Layout: layered like the seeds' diagrams (outside on top, br-ex, routers
 * and namespaces, br-int, qbr, VMs at the bottom), computed once; positions
 * are kept per node id (localStorage) and new nodes are placed beside their
 * neighbours, so nothing already on screen moves.
 * Names come from tenants: they only ever reach the page through .text().
 */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("map-config").textContent);
  const LOGICAL = new Set(["network", "subnet", "port", "router", "fip", "server"]);
  const PHYSICAL = new Set(["host", "netns", "bridge", "iface"]);
  const SLOT = 100, CHILD_H = 46, HEADER = 24, PAD = 10, ROW_GAP = 60, GAP = 28, MAXCOLS = 14;
  const GLYPH = { w: SLOT, h: 44 };
  const STORE_LIMIT = 20000; // positions kept in localStorage up to this many nodes

  // ------------------------------------------------------------------ visual grammar
  const NODE_STYLE = {
    host: { fill: "#f2f4f7", stroke: "#5b6472", label: "host" },
    "netns:qrouter": { fill: "#e3f4e8", stroke: "#1f8a4c", label: "qrouter namespace" },
    "netns:snat": { fill: "#fdf0dc", stroke: "#b7791f", label: "snat namespace" },
    "netns:fip": { fill: "#fdf0dc", stroke: "#d35400", label: "fip namespace" },
    "netns:qdhcp": { fill: "#e4eefc", stroke: "#2a6fdb", label: "qdhcp namespace" },
    "netns:vm": { fill: "#efe6fa", stroke: "#7d3cc8", label: "VM (namespace)" },
    "netns:other": { fill: "#f1f1f1", stroke: "#888", label: "other namespace" },
    "bridge:ovs": { fill: "#dff3f3", stroke: "#137a7f", label: "OVS bridge" },
    "bridge:linux": { fill: "#f1f3d9", stroke: "#7a7f13", label: "Linux bridge (qbr)" },
    network: { fill: "#e4eefc", stroke: "#2a6fdb", label: "network" },
    "network:external": { fill: "#fdecc8", stroke: "#b7791f", label: "external network" },
    router: { fill: "#e3f4e8", stroke: "#1f8a4c", label: "router" },
    server: { fill: "#efe6fa", stroke: "#7d3cc8", label: "VM" },
  };
  const GLYPH_STYLE = {
    subnet: { shape: d3.symbolSquare, fill: "#2a6fdb", label: "subnet" },
    port: { shape: d3.symbolCircle, fill: "#4a5568", label: "port" },
    fip: { shape: d3.symbolDiamond, fill: "#e67e22", label: "floating IP" },
    "iface:qr": { shape: d3.symbolCircle, fill: "#1f8a4c", label: "qr- (router interface)" },
    "iface:qg": { shape: d3.symbolCircle, fill: "#b7791f", label: "qg- (router gateway)" },
    "iface:fg": { shape: d3.symbolCircle, fill: "#d35400", label: "fg-/rfp-/fpr- (DVR)" },
    "iface:tap": { shape: d3.symbolCircle, fill: "#2a6fdb", label: "tap" },
    "iface:qvo": { shape: d3.symbolCircle, fill: "#137a7f", label: "qvo / qvb veth" },
    "iface:patch": { shape: d3.symbolTriangle, fill: "#137a7f", label: "OVS patch port" },
    "iface:tunnel": { shape: d3.symbolStar, fill: "#7d3cc8", label: "tunnel port (vxlan/gre)" },
    "iface:nic": { shape: d3.symbolSquare, fill: "#1d2430", label: "physical NIC" },
    "iface:other": { shape: d3.symbolCircle, fill: "#9aa3b0", label: "other interface" },
  };
  const LINK_STYLE = {
    veth: { stroke: "#4a5568", dash: null, label: "veth pair" },
    patch: { stroke: "#137a7f", dash: "6 3", label: "OVS patch" },
    tunnel: { stroke: "#7d3cc8", dash: "2 3", label: "tunnel" },
    on_network: { stroke: "#8da2c0", dash: null, label: "port on network" },
    gateway: { stroke: "#b7791f", dash: null, label: "router gateway" },
    nat: { stroke: "#e67e22", dash: "4 2", label: "floating IP NAT" },
  };

  function nodeStyleKey(n) {
    if (n.kind === "netns") return "netns:" + (NODE_STYLE["netns:" + n.attrs.role] ? n.attrs.role : "other");
    if (n.kind === "bridge") return "bridge:" + (n.attrs.type === "linux" ? "linux" : "ovs");
    if (n.kind === "network") return n.attrs.external ? "network:external" : "network";
    return n.kind;
  }

  function glyphStyleKey(n) {
    if (n.kind !== "iface") return n.kind;
    const a = n.attrs;
    if (a.ovs_type === "patch") return "iface:patch";
    if (["vxlan", "gre", "geneve"].includes(a.ovs_type)) return "iface:tunnel";
    if (a.role === "qr" || a.role === "qg" || a.role === "tap") return "iface:" + a.role;
    if (["fg", "rfp", "fpr", "sg", "ha"].includes(a.role)) return "iface:fg";
    if (a.role === "qvo" || a.role === "qvb") return "iface:qvo";
    if (a.if_kind === "physical" || (a.ovs_type === "system" && !a.role && !a.namespace)) return "iface:nic";
    return "iface:other";
  }

  function statusClass(n) {
    const s = (n.status || "").toUpperCase();
    if (s === "DOWN" || s === "ERROR" || s === "BUILD") return "st-down";
    if (s === "UNKNOWN") return "st-unknown";
    if (s === "STALE") return "st-stale";
    return "";
  }

  function isContainer(n, view) {
    if (view === "physical") return n.kind === "host" || n.kind === "netns" || n.kind === "bridge";
    return n.kind === "network" || n.kind === "router" || n.kind === "server";
  }

  // ------------------------------------------------------------------ state
  const state = {
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
    renderer: "svg",
    transform: d3.zoomIdentity,
    loading: false,
    buffer: [],
    fresh: new Set(),
    socket: null,
    retry: 0,
  };
  const stats = { applied: [], draws: 0, lastDrawMs: 0, firstDrawnAt: null, wsFrames: 0 };

  const edgeKey = (e) => e.source + "|" + e.target + "|" + e.kind;
  const kindsOf = (view) => (view === "physical" ? PHYSICAL : LOGICAL);

  // ------------------------------------------------------------------ graph store
  function loadGraph(data) {
    state.nodes = new Map();
    state.edges = new Map();
    const kinds = kindsOf(state.view);
    for (const n of data.nodes) if (kinds.has(n.kind)) state.nodes.set(n.id, n);
    for (const e of data.edges) if (state.nodes.has(e.source) && state.nodes.has(e.target)) state.edges.set(edgeKey(e), e);
    state.revision = data.revision;
  }

  function applyDelta(msg) {
    const kinds = kindsOf(state.view);
    const touched = new Set();
    for (const e of msg.removed.edges) state.edges.delete(edgeKey(e));
    for (const id of msg.removed.nodes) {
      state.nodes.delete(id);
      state.positions.delete(id);
    }
    for (const n of msg.added.nodes.concat(msg.changed.nodes)) {
      if (!kinds.has(n.kind)) continue;
      state.nodes.set(n.id, n);
      touched.add(n.id);
    }
    for (const e of msg.added.edges) {
      if (state.nodes.has(e.source) && state.nodes.has(e.target)) state.edges.set(edgeKey(e), e);
    }
    for (const [k, e] of state.edges) if (!state.nodes.has(e.source) || !state.nodes.has(e.target)) state.edges.delete(k);
    state.revision = msg.revision;
    return touched;
  }

  // ------------------------------------------------------------------ model: what is drawn
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

  function defaultCollapsed(n, nodeCount) {
    return n.kind === "host" && nodeCount > config.collapseHostsAbove;
  }

  function isCollapsed(n, nodeCount) {
    const collapsible = n.kind === "host" || n.kind === "bridge";
    return collapsible && defaultCollapsed(n, nodeCount) !== state.toggled.has(n.id);
  }

  function buildModel() {
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
    const adjacency = new Map();
    const adj = (a, b) => {
      if (!adjacency.has(a)) adjacency.set(a, new Set());
      adjacency.get(a).add(b);
    };
    for (const l of links.values()) { adj(l.source, l.target); adj(l.target, l.source); }
    for (const n of visible) {
      const p = parent.get(n.id);
      if (p && state.nodes.has(p)) { adj(n.id, p); adj(p, n.id); }
    }
    const visibleIds = new Set(visible.map((n) => n.id));
    const kidsShown = (id) => (children.get(id) || []).filter((c) => visibleIds.has(c));
    return { view, parent, children, visible, visibleIds, links: Array.from(links.values()), adjacency, count, kidsShown, standFor };
  }

  // ------------------------------------------------------------------ layered layout
  function hostBridgeRow(n) {
    if (n.attrs.type === "linux") return 4;
    const host = state.nodes.get("host:" + n.host);
    const mapped = new Set();
    for (const a of (host && host.attrs.agents) || []) for (const b of Object.values(a.bridge_mappings || {})) mapped.add(b);
    return n.label === "br-ex" || mapped.has(n.label) ? 1 : 3;
  }

  function rowOf(n) {
    switch (n.kind) {
      case "iface": return 0;
      case "bridge": return hostBridgeRow(n);
      case "netns": return n.attrs.role === "vm" ? 5 : 2;
      case "network": return n.attrs.external ? 0 : 2;
      case "router": return 1;
      case "server": return 4;
      default: return 3;
    }
  }

  const byLabel = (a, b) => d3.ascending(state.nodes.get(a).label, state.nodes.get(b).label) || d3.ascending(a, b);

  function labelWidth(n) {
    return Math.min(n.label.length, 40) * 6.6 + 36;
  }

  // Lays out `id`'s subtree relative to its top-left corner: returns {w, h}, writes rel positions.
  function layoutBox(id, model, rel, sizes) {
    const n = state.nodes.get(id);
    const kids = model.kidsShown(id);
    if (!isContainer(n, model.view)) {
      rel.set(id, { x: SLOT / 2, y: 16 });
      sizes.set(id, GLYPH);
      return GLYPH;
    }
    rel.set(id, { x: 0, y: 0 });
    let size;
    if (!kids.length) {
      size = { w: Math.max(labelWidth(n), 120), h: 36 };
    } else if (kids.some((k) => isContainer(state.nodes.get(k), model.view))) {
      const inner = new Map();
      const s = layoutScope(kids, model, inner, sizes, PAD, HEADER + PAD);
      for (const [k, p] of inner) rel.set(k, p);
      size = { w: Math.max(s.w + PAD, labelWidth(n)), h: s.h + PAD };
    } else {
      kids.sort(byLabel);
      const cols = Math.min(kids.length, MAXCOLS);
      kids.forEach((k, i) => rel.set(k, childSlot(i, cols)));
      size = { w: Math.max(cols * SLOT + 2 * PAD, labelWidth(n)), h: HEADER + Math.ceil(kids.length / cols) * CHILD_H + 4 };
    }
    sizes.set(id, size);
    return size;
  }

  function childSlot(i, cols) {
    return { x: PAD + SLOT / 2 + (i % cols) * SLOT, y: HEADER + 14 + Math.floor(i / cols) * CHILD_H };
  }

  // Items of one scope in layered rows, each row ordered by the barycentre of its links to rows above.
  function layoutScope(items, model, rel, sizes, ox, oy) {
    const itemOf = new Map();
    const boxes = new Map();
    for (const it of items) {
      const inner = new Map();
      boxes.set(it, { size: layoutBox(it, model, inner, sizes), inner });
      for (const k of inner.keys()) itemOf.set(k, it);
    }
    const itemLinks = new Map(items.map((i) => [i, []]));
    for (const l of model.links) {
      const a = itemOf.get(l.source), b = itemOf.get(l.target);
      if (a && b && a !== b) { itemLinks.get(a).push([b, l.source, l.target]); itemLinks.get(b).push([a, l.target, l.source]); }
    }
    const rows = d3.group(items, (i) => rowOf(state.nodes.get(i)));
    const centre = new Map();
    let y = oy, width = 0;
    for (const r of Array.from(rows.keys()).sort(d3.ascending)) {
      const row = rows.get(r);
      const bary = new Map(row.map((i) => [i, d3.mean(itemLinks.get(i), ([o]) => centre.get(o))]));
      row.sort((a, b) => d3.ascending(bary.get(a) ?? Infinity, bary.get(b) ?? Infinity) || byLabel(a, b));
      let x = ox, rowH = 0;
      for (const it of row) {
        const { size, inner } = boxes.get(it);
        const b = bary.get(it);
        const left = b === undefined ? x : Math.max(x, b - size.w / 2);
        for (const [k, p] of inner) rel.set(k, { x: left + p.x, y: y + p.y });
        centre.set(it, left + size.w / 2);
        x = left + size.w + GAP;
        rowH = Math.max(rowH, size.h);
      }
      width = Math.max(width, x - GAP - ox);
      y += rowH + ROW_GAP;
    }
    alignChildren(items, model, rel, itemOf);
    return { w: width, h: y - ROW_GAP - oy };
  }

  // Re-order the ports of bridges (and namespaces, routers) under/over the things they link to.
  function alignChildren(items, model, rel, itemOf) {
    for (const it of items) {
      const kids = model.kidsShown(it);
      if (!kids.length || kids.some((k) => isContainer(state.nodes.get(k), model.view))) continue;
      const peerX = new Map();
      for (const l of model.links) {
        for (const [mine, other] of [[l.source, l.target], [l.target, l.source]]) {
          if (model.parent.get(mine) === it && itemOf.get(other) !== it && rel.has(other)) {
            peerX.set(mine, (peerX.get(mine) || []).concat(rel.get(other).x));
          }
        }
      }
      if (!peerX.size) continue;
      const origin = rel.get(it);
      const cols = Math.min(kids.length, MAXCOLS);
      kids.sort((a, b) => d3.ascending(d3.mean(peerX.get(a) || []) ?? Infinity, d3.mean(peerX.get(b) || []) ?? Infinity) || byLabel(a, b));
      kids.forEach((k, i) => {
        const s = childSlot(i, cols);
        rel.set(k, { x: origin.x + s.x, y: origin.y + s.y });
      });
    }
  }

  // The whole view: logical = one layered scope; physical = hosts packed on shelves.
  function freshLayout(model) {
    const pos = new Map(), sizes = new Map();
    const top = model.visible.filter((n) => !model.parent.has(n.id) || !model.visibleIds.has(model.parent.get(n.id))).map((n) => n.id);
    if (model.view === "logical") {
      layoutScope(top, model, pos, sizes, 0, 0);
      return { pos, sizes };
    }
    const hosts = top.filter((i) => state.nodes.get(i).kind === "host").sort(byLabel);
    const loose = top.filter((i) => state.nodes.get(i).kind !== "host");
    const measured = hosts.map((h) => { const rel = new Map(); return { h, rel, size: layoutBox(h, model, rel, sizes) }; });
    const area = d3.sum(measured, (m) => (m.size.w + GAP) * (m.size.h + GAP));
    const shelf = Math.max(1600, Math.sqrt(area) * 1.6);
    let x = 0, y = 0, rowH = 0;
    for (const m of measured) {
      if (x > 0 && x + m.size.w > shelf) { x = 0; y += rowH + ROW_GAP; rowH = 0; }
      for (const [k, p] of m.rel) pos.set(k, { x: x + p.x, y: y + p.y });
      x += m.size.w + ROW_GAP;
      rowH = Math.max(rowH, m.size.h);
    }
    if (loose.length) layoutScope(loose, model, pos, sizes, 0, y + rowH + ROW_GAP);
    return { pos, sizes };
  }

  // ------------------------------------------------------------------ stable positions
  function storageKey() {
    return "neutron-map:pos:" + config.scopeKey + ":" + state.view;
  }

  function loadPositions() {
    state.positions = new Map();
    try {
      const saved = JSON.parse(localStorage.getItem(storageKey()) || "{}");
      for (const [id, p] of Object.entries(saved)) state.positions.set(id, { x: p[0], y: p[1] });
    } catch (err) {
      console.warn("map: stored positions unreadable", err);
    }
  }

  function savePositions() {
    if (state.positions.size > STORE_LIMIT) return; // big clouds: the layout is deterministic anyway
    const out = {};
    for (const [id, p] of state.positions) if (state.nodes.has(id)) out[id] = [Math.round(p.x), Math.round(p.y)];
    try { localStorage.setItem(storageKey(), JSON.stringify(out)); } catch (err) { console.warn("map: positions not saved", err); }
  }

  function depthOf(id, parent) {
    let d = 0;
    for (let p = parent.get(id); p; p = parent.get(p)) d++;
    return d;
  }

  // Keep every known position; place each new node where the fresh layout puts it relative to
  // its (kept) parent or next to a linked neighbour, shifted right until it overlaps nothing.
  function placeNew(model) {
    const missing = model.visible.filter((n) => !state.positions.has(n.id));
    if (!missing.length) return [];
    const fresh = freshLayout(model);
    if (missing.length === model.visible.length) {
      for (const n of missing) state.positions.set(n.id, fresh.pos.get(n.id));
      return missing.map((n) => n.id);
    }
    missing.sort((a, b) => depthOf(a.id, model.parent) - depthOf(b.id, model.parent));
    const placed = [];
    for (const n of missing) {
      const f = fresh.pos.get(n.id);
      const p = model.parent.get(n.id);
      const size = fresh.sizes.get(n.id) || GLYPH;
      let want;
      if (p && state.positions.has(p) && fresh.pos.has(p)) {
        const pp = state.positions.get(p), fp = fresh.pos.get(p);
        want = { x: pp.x + f.x - fp.x, y: pp.y + f.y - fp.y };
      } else {
        want = { x: f.x, y: f.y };
        const neighbour = Array.from(model.adjacency.get(n.id) || []).find((o) => state.positions.has(o) && model.parent.get(o) === p);
        if (neighbour) want.x = state.positions.get(neighbour).x;
      }
      const siblings = model.visible.filter((o) => o.id !== n.id && model.parent.get(o.id) === p && state.positions.has(o.id));
      const boxes = siblings.map((o) => boxOf(o.id, model, fresh.sizes));
      const glyph = !isContainer(n, model.view);
      const rectAt = (x) => (glyph ? { x0: x - SLOT / 2 + 4, y0: want.y - 16, x1: x + SLOT / 2 - 4, y1: want.y + 26 } : { x0: x, y0: want.y, x1: x + size.w, y1: want.y + size.h });
      let x = want.x;
      for (let tries = 0; tries < 2000 && boxes.some((b) => overlaps(b, rectAt(x))); tries++) x += glyph ? SLOT : GAP;
      state.positions.set(n.id, { x, y: want.y });
      placed.push(n.id);
    }
    return placed;
  }

  const overlaps = (a, b) => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;

  // ------------------------------------------------------------------ boxes of containers
  function boxOf(id, model, sizes) {
    const n = state.nodes.get(id);
    const p = state.positions.get(id);
    if (!isContainer(n, model.view)) return { x0: p.x - SLOT / 2 + 4, y0: p.y - 16, x1: p.x + SLOT / 2 - 4, y1: p.y + 26 };
    const min = (sizes && sizes.get(id)) || { w: Math.max(labelWidth(n), 120), h: 36 };
    const box = { x0: p.x, y0: p.y, x1: p.x + Math.max(labelWidth(n), 120), y1: p.y + 36 };
    const kids = model.kidsShown(id);
    if (!kids.length) return box;
    for (const k of kids) {
      if (!state.positions.has(k)) continue;
      const b = boxOf(k, model, sizes);
      box.x0 = Math.min(box.x0, b.x0 - PAD);
      box.y0 = Math.min(box.y0, b.y0 - HEADER - PAD);
      box.x1 = Math.max(box.x1, b.x1 + PAD);
      box.y1 = Math.max(box.y1, b.y1 + PAD);
    }
    void min;
    return box;
  }

  function allBoxes(model) {
    const boxes = new Map();
    const visit = (id) => {
      if (boxes.has(id)) return boxes.get(id);
      const n = state.nodes.get(id), p = state.positions.get(id);
      let box;
      if (!isContainer(n, model.view)) box = { x0: p.x - SLOT / 2 + 4, y0: p.y - 16, x1: p.x + SLOT / 2 - 4, y1: p.y + 26 };
      else {
        box = { x0: p.x, y0: p.y, x1: p.x + Math.max(labelWidth(n), 120), y1: p.y + 36 };
        for (const k of model.kidsShown(id)) {
          const b = visit(k);
          box.x0 = Math.min(box.x0, b.x0 - PAD);
          box.y0 = Math.min(box.y0, b.y0 - HEADER - PAD);
          box.x1 = Math.max(box.x1, b.x1 + PAD);
          box.y1 = Math.max(box.y1, b.y1 + PAD);
        }
      }
      boxes.set(id, box);
      return box;
    };
    for (const n of model.visible) visit(n.id);
    return boxes;
  }

  // ------------------------------------------------------------------ drawing
  const page = document.getElementById("map-page");
  const stage = document.getElementById("map-stage");
  const svg = d3.select("#map-svg");
  const canvas = document.getElementById("map-canvas");
  const root = svg.append("g").attr("class", "map-root");
  const gBoxes = root.append("g").attr("class", "boxes");
  const gLinks = root.append("g").attr("class", "links");
  const gNodes = root.append("g").attr("class", "glyphs");
  let scene = null; // {model, boxes, containers, glyphs, links, focusSet}

  const zoom = d3.zoom().scaleExtent([0.02, 4]).on("zoom", (ev) => {
    state.transform = ev.transform;
    if (state.renderer === "svg") root.attr("transform", ev.transform);
    else drawCanvas();
    scheduleHash();
  });
  svg.call(zoom).on("dblclick.zoom", null);
  d3.select(canvas).call(zoom).on("dblclick.zoom", null);

  function linkEnds(l, boxes) {
    const pt = (id) => {
      const n = state.nodes.get(id);
      const b = boxes.get(id);
      if (isContainer(n, scene.model.view)) return { x: (b.x0 + b.x1) / 2, y: (b.y0 + b.y1) / 2 };
      return state.positions.get(id);
    };
    return [pt(l.source), pt(l.target)];
  }

  function buildScene() {
    const model = buildModel();
    state.model = model;
    const placed = placeNew(model);
    if (placed.length) savePositions();
    const boxes = allBoxes(model);
    const containers = model.visible.filter((n) => isContainer(n, model.view));
    containers.sort((a, b) => depthOf(a.id, model.parent) - depthOf(b.id, model.parent) || (isCollapsed(a, model.count) ? -1 : 1));
    const glyphs = model.visible.filter((n) => !isContainer(n, model.view));
    scene = { model, boxes, containers, glyphs, links: model.links, focusSet: focusSet(model) };
    scene.path = pathOverlay(model, boxes);
    page.classList.toggle("path-has-return", !!shownBack(scene.path));
    return placed;
  }

  function focusSet(model) {
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

  function elementCount() {
    return scene.model.visible.length + scene.links.length;
  }

  function render() {
    const t0 = performance.now();
    buildScene();
    const useCanvas = elementCount() > config.canvasThreshold;
    state.renderer = useCanvas ? "canvas" : "svg";
    svg.attr("hidden", useCanvas ? "" : null);
    canvas.hidden = !useCanvas;
    document.getElementById("map-empty").hidden = scene.model.visible.length > 0;
    if (useCanvas) {
      gBoxes.selectAll("*").remove(); gLinks.selectAll("*").remove(); gNodes.selectAll("*").remove(); gPath.selectAll("*").remove();
      buildHitIndex();
      drawCanvas();
    } else {
      drawSvg();
    }
    state.fresh.clear();
    stats.draws += 1;
    stats.lastDrawMs = performance.now() - t0;
    stats.drawnRevision = state.revision;
    stats.drawnAt = Date.now();
    if (stats.firstDrawnAt === null) stats.firstDrawnAt = performance.now();
    page.dataset.revision = String(state.revision);
    page.dataset.renderer = state.renderer;
    renderPanel();
  }

  function drawSvg() {
    const { boxes, model, focusSet: fs } = scene;
    const dim = (id) => (fs && !fs.has(id) ? " dim" : "");
    const box = gBoxes.selectAll("g.box").data(scene.containers, (n) => n.id);
    box.exit().remove();
    const boxEnter = box.enter().append("g").attr("class", "box");
    boxEnter.append("rect").attr("rx", 6);
    boxEnter.append("text").attr("class", "box-label");
    boxEnter.append("text").attr("class", "box-sub");
    boxEnter.append("g").attr("class", "badge");
    const boxAll = boxEnter.merge(box)
      .attr("data-id", (n) => n.id)
      .attr("class", (n) => "box kind-" + n.kind + " " + statusClass(n) + dim(n.id) + (state.selected === n.id ? " selected" : "") + (state.fresh.has(n.id) ? " fresh" : "") + (isCollapsed(n, model.count) ? " collapsed" : ""))
      .order();
    boxAll.select("rect")
      .attr("x", (n) => boxes.get(n.id).x0).attr("y", (n) => boxes.get(n.id).y0)
      .attr("width", (n) => boxes.get(n.id).x1 - boxes.get(n.id).x0)
      .attr("height", (n) => boxes.get(n.id).y1 - boxes.get(n.id).y0)
      .attr("fill", (n) => NODE_STYLE[nodeStyleKey(n)].fill)
      .attr("stroke", (n) => NODE_STYLE[nodeStyleKey(n)].stroke);
    boxAll.select("text.box-label")
      .attr("x", (n) => boxes.get(n.id).x0 + 8).attr("y", (n) => boxes.get(n.id).y0 + 16)
      .text((n) => boxTitle(n));
    boxAll.select("text.box-sub")
      .attr("x", (n) => boxes.get(n.id).x0 + 8).attr("y", (n) => boxes.get(n.id).y0 + 30)
      .text((n) => (isCollapsed(n, model.count) || !model.kidsShown(n.id).length ? boxSubtitle(n, model) : ""));
    boxAll.each(function (n) { drawBadge(d3.select(this).select("g.badge"), n, boxes.get(n.id).x1 - 10, boxes.get(n.id).y0 + 10); });

    const link = gLinks.selectAll("line").data(scene.links, (l) => l.key);
    link.exit().remove();
    link.enter().append("line").merge(link)
      .attr("class", (l) => "link link-" + l.kind + (fs && !(fs.has(l.source) && fs.has(l.target)) ? " dim" : ""))
      .attr("stroke", (l) => LINK_STYLE[l.kind].stroke)
      .attr("stroke-dasharray", (l) => LINK_STYLE[l.kind].dash)
      .attr("stroke-width", (l) => Math.min(1.5 + Math.log2(l.count), 6))
      .each(function (l) {
        const [a, b] = linkEnds(l, boxes);
        d3.select(this).attr("x1", a.x).attr("y1", a.y).attr("x2", b.x).attr("y2", b.y);
      });

    const glyph = gNodes.selectAll("g.glyph").data(scene.glyphs, (n) => n.id);
    glyph.exit().remove();
    const gEnter = glyph.enter().append("g");
    // a transparent target as large as the glyph and its labels: easy to hit, with the mouse or a test
    gEnter.append("rect").attr("class", "hit").attr("x", -SLOT / 2 + 6).attr("y", -12).attr("width", SLOT - 12).attr("height", 46).attr("fill", "transparent");
    gEnter.append("path").attr("class", "shape");
    gEnter.append("text").attr("class", "glyph-label").attr("text-anchor", "middle").attr("y", 20);
    gEnter.append("text").attr("class", "glyph-sub").attr("text-anchor", "middle").attr("y", 31);
    gEnter.append("g").attr("class", "badge");
    const gAll = gEnter.merge(glyph)
      .attr("data-id", (n) => n.id)
      .attr("class", (n) => "glyph kind-" + n.kind + " " + statusClass(n) + dim(n.id) + (state.selected === n.id ? " selected" : "") + (state.fresh.has(n.id) ? " fresh" : ""))
      .attr("transform", (n) => { const p = state.positions.get(n.id); return "translate(" + p.x + "," + p.y + ")"; });
    gAll.select("path.shape")
      .attr("d", (n) => d3.symbol(GLYPH_STYLE[glyphStyleKey(n)].shape, n.kind === "fip" ? 150 : 110)())
      .attr("fill", (n) => GLYPH_STYLE[glyphStyleKey(n)].fill);
    gAll.select("text.glyph-label").text((n) => shorten(n.label, 16));
    gAll.select("text.glyph-sub").text((n) => glyphSubtitle(n));
    gAll.each(function (n) { drawBadge(d3.select(this).select("g.badge"), n, 9, -9); });
    drawPathSvg();
  }

  function drawBadge(g, n, x, y) {
    const warn = ((n.attrs && n.attrs.warnings) || []).length;
    g.selectAll("*").remove();
    if (!warn) return;
    g.attr("transform", "translate(" + x + "," + y + ")").attr("class", "badge warn-badge");
    g.append("circle").attr("r", 7);
    g.append("text").attr("text-anchor", "middle").attr("y", 4).text("!");
    g.append("title").text(n.attrs.warnings.join("\n"));
  }

  function shorten(s, max) {
    s = String(s == null ? "" : s);
    return s.length > max ? s.slice(0, max - 1) + "…" : s;
  }

  function boxTitle(n) {
    const prefix = { host: "host ", router: "router ", server: "VM ", network: n.attrs.external ? "external " : "" }[n.kind] || "";
    let label = n.label;
    if (n.kind === "netns" && label.length > 24) label = shorten(label, 24);
    const down = n.kind === "host" && n.status === "DOWN" ? " — agent down"
      : n.kind === "host" && n.attrs.stale ? " — no report since " + new Date(n.attrs.stale).toLocaleString() : "";
    return prefix + label + down;
  }

  function boxSubtitle(n, model) {
    if (n.kind === "host") {
      const counts = d3.rollup(model.children.get(n.id) || [], (v) => v.length, (c) => state.nodes.get(c).kind);
      return Array.from(counts, ([k, v]) => v + " " + k + (v > 1 ? (k.endsWith("s") ? "es" : "s") : "")).join(", ");
    }
    if (n.kind === "bridge") return (n.attrs.type === "linux" ? "Linux bridge" : "OVS") + ", " + ((model.children.get(n.id) || []).length) + " ports";
    if (n.kind === "network") return [n.attrs.network_type, n.attrs.segmentation_id != null ? "seg " + n.attrs.segmentation_id : null, n.status].filter(Boolean).join(" · ");
    return n.status || "";
  }

  function glyphSubtitle(n) {
    const a = n.attrs || {};
    if (n.kind === "iface") {
      if (a.tag != null) return "tag " + a.tag;
      if (a.addresses && a.addresses.length) return shorten(a.addresses[0], 18);
      if (a.remote_host) return "→ " + a.remote_host;
      return "";
    }
    if (n.kind === "subnet") return a.cidr && a.cidr !== n.label ? shorten(a.cidr, 18) : "";
    if (n.kind === "port") return shorten(a.device_owner ? a.device_owner.replace("network:", "").replace("compute:", "VM ") : "", 18);
    return "";
  }

  // --- canvas: the same picture for big graphs
  let hitIndex = null;
  function buildHitIndex() {
    hitIndex = d3.quadtree().x((n) => state.positions.get(n.id).x).y((n) => state.positions.get(n.id).y).addAll(scene.glyphs);
  }

  function drawCanvas() {
    if (!scene) return;
    const rect = stage.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(rect.width * ratio) || canvas.height !== Math.round(rect.height * ratio)) {
      canvas.width = Math.round(rect.width * ratio);
      canvas.height = Math.round(rect.height * ratio);
      canvas.style.width = rect.width + "px";
      canvas.style.height = rect.height + "px";
    }
    const ctx = canvas.getContext("2d");
    const t = state.transform, fs = scene.focusSet;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, rect.width, rect.height);
    ctx.translate(t.x, t.y);
    ctx.scale(t.k, t.k);
    const view = { x0: -t.x / t.k, y0: -t.y / t.k, x1: (rect.width - t.x) / t.k, y1: (rect.height - t.y) / t.k };
    const inView = (b) => b.x1 >= view.x0 && b.x0 <= view.x1 && b.y1 >= view.y0 && b.y0 <= view.y1;
    const labels = t.k > 0.45;
    ctx.lineWidth = 1 / Math.max(t.k, 0.2);
    for (const n of scene.containers) {
      const b = scene.boxes.get(n.id);
      if (!inView(b)) continue;
      const st = NODE_STYLE[nodeStyleKey(n)];
      ctx.globalAlpha = fs && !fs.has(n.id) ? 0.15 : 1;
      ctx.fillStyle = st.fill;
      ctx.strokeStyle = statusClass(n) === "st-down" ? "#c0392b" : st.stroke;
      ctx.fillRect(b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0);
      ctx.strokeRect(b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0);
      if (labels) {
        ctx.fillStyle = "#1d2430";
        ctx.font = "12px system-ui, sans-serif";
        ctx.fillText(boxTitle(n), b.x0 + 8, b.y0 + 16);
      }
    }
    for (const l of scene.links) {
      const [a, b] = linkEnds(l, scene.boxes);
      if (!inView({ x0: Math.min(a.x, b.x), y0: Math.min(a.y, b.y), x1: Math.max(a.x, b.x), y1: Math.max(a.y, b.y) })) continue;
      const st = LINK_STYLE[l.kind];
      ctx.globalAlpha = fs && !(fs.has(l.source) && fs.has(l.target)) ? 0.1 : 0.8;
      ctx.strokeStyle = st.stroke;
      ctx.setLineDash(st.dash ? st.dash.split(" ").map(Number) : []);
      ctx.beginPath(); ctx.moveTo(a.x, a.y); ctx.lineTo(b.x, b.y); ctx.stroke();
    }
    ctx.setLineDash([]);
    for (const n of scene.glyphs) {
      const p = state.positions.get(n.id);
      if (p.x < view.x0 - 50 || p.x > view.x1 + 50 || p.y < view.y0 - 50 || p.y > view.y1 + 50) continue;
      ctx.globalAlpha = fs && !fs.has(n.id) ? 0.15 : 1;
      ctx.fillStyle = GLYPH_STYLE[glyphStyleKey(n)].fill;
      ctx.beginPath(); ctx.arc(p.x, p.y, 6, 0, 2 * Math.PI); ctx.fill();
      if (statusClass(n) === "st-down") { ctx.strokeStyle = "#c0392b"; ctx.stroke(); }
      if (labels) {
        ctx.fillStyle = "#1d2430";
        ctx.font = "10px system-ui, sans-serif";
        ctx.textAlign = "center";
        ctx.fillText(shorten(n.label, 16), p.x, p.y + 20);
        ctx.textAlign = "start";
      }
    }
    drawPathCanvas(ctx, t.k);
    if (state.selected && state.positions.has(state.selected) && scene.boxes.has(state.selected)) {
      const b = scene.boxes.get(state.selected);
      ctx.globalAlpha = 1; ctx.strokeStyle = "#2a6fdb"; ctx.lineWidth = 3 / Math.max(t.k, 0.2);
      ctx.strokeRect(b.x0 - 3, b.y0 - 3, b.x1 - b.x0 + 6, b.y1 - b.y0 + 6);
    }
    ctx.globalAlpha = 1;
    stats.frames = (stats.frames || 0) + 1;
  }

  function canvasHit(event) {
    const [mx, my] = d3.pointer(event, canvas);
    const [x, y] = state.transform.invert([mx, my]);
    const g = hitIndex && hitIndex.find(x, y, 12);
    if (g) return g.id;
    let best = null, area = Infinity;
    for (const n of scene.containers) {
      const b = scene.boxes.get(n.id);
      const a = (b.x1 - b.x0) * (b.y1 - b.y0);
      if (x >= b.x0 && x <= b.x1 && y >= b.y0 && y <= b.y1 && a < area) { best = n.id; area = a; }
    }
    return best;
  }

  // ------------------------------------------------------------------ interaction
  function idFromEvent(event) {
    if (state.renderer === "canvas") return canvasHit(event);
    const el = event.target.closest && event.target.closest("[data-id]");
    return el ? el.getAttribute("data-id") : null;
  }

  svg.on("click", (ev) => select(idFromEvent(ev)));
  d3.select(canvas).on("click", (ev) => select(idFromEvent(ev)));
  svg.on("dblclick", (ev) => toggleCollapse(idFromEvent(ev)));
  d3.select(canvas).on("dblclick", (ev) => toggleCollapse(idFromEvent(ev)));

  function select(id) {
    state.selected = id && state.nodes.has(id) ? id : null;
    document.getElementById("focus-toggle").disabled = !state.selected && !state.focus;
    if (state.renderer === "svg") {
      gBoxes.selectAll("g.box").classed("selected", (n) => n.id === state.selected);
      gNodes.selectAll("g.glyph").classed("selected", (n) => n.id === state.selected);
    } else drawCanvas();
    renderPanel();
    scheduleHash();
  }

  function toggleCollapse(id) {
    const n = id && state.nodes.get(id);
    if (!n || (n.kind !== "host" && n.kind !== "bridge")) return;
    if (state.toggled.has(id)) state.toggled.delete(id); else state.toggled.add(id);
    render();
    scheduleHash();
  }

  function centreOn(id) {
    const p = state.positions.get(id);
    if (!p) return;
    const rect = stage.getBoundingClientRect();
    const k = Math.max(state.transform.k, 1);
    const target = d3.zoomIdentity.translate(rect.width / 2 - k * p.x, rect.height / 2 - k * p.y).scale(k);
    (state.renderer === "canvas" ? d3.select(canvas) : svg).call(zoom.transform, target);
  }

  // Bring a node into view: expand its collapsed containers, select it, centre on it.
  function reveal(id) {
    if (!state.nodes.has(id)) return;
    const model = state.model;
    let changed = false;
    for (let p = model.parent.get(id); p; p = model.parent.get(p)) {
      const pn = state.nodes.get(p);
      if (pn && isCollapsed(pn, model.count)) { state.toggled.has(p) ? state.toggled.delete(p) : state.toggled.add(p); changed = true; }
    }
    if (changed) render();
    select(id);
    centreOn(id);
  }

  function fit() {
    if (!scene || !scene.boxes.size) return;
    const all = Array.from(scene.boxes.values());
    const x0 = d3.min(all, (b) => b.x0), y0 = d3.min(all, (b) => b.y0), x1 = d3.max(all, (b) => b.x1), y1 = d3.max(all, (b) => b.y1);
    const rect = stage.getBoundingClientRect();
    const k = Math.min(1.5, 0.92 * Math.min(rect.width / (x1 - x0 || 1), rect.height / (y1 - y0 || 1)));
    const t = d3.zoomIdentity.translate(rect.width / 2 - k * (x0 + x1) / 2, rect.height / 2 - k * (y0 + y1) / 2).scale(k);
    (state.renderer === "canvas" ? d3.select(canvas) : svg).call(zoom.transform, t);
  }

  // --- search by name, id, IP, MAC or CIDR
  function searchTerms(n) {
    const a = n.attrs || {};
    const terms = [n.id, n.label, a.name, a.mac, a.mac_address, a.cidr, a.floating_ip_address, a.fixed_ip_address, a.describe];
    for (const ip of a.fixed_ips || []) terms.push(ip.ip_address);
    for (const addr of a.addresses || []) { terms.push(addr); terms.push(String(addr).split("/")[0]); }
    return terms.filter(Boolean).map((t) => String(t).toLowerCase());
  }

  function search(query) {
    const q = query.trim().toLowerCase();
    if (!q) return [];
    const exact = [], partial = [];
    for (const n of state.nodes.values()) {
      const terms = searchTerms(n);
      if (terms.includes(q)) exact.push(n);
      else if (terms.some((t) => t.includes(q))) partial.push(n);
    }
    // an IP names its port (logical) or its interface (physical) before anything merely mentioning it
    const rank = { port: 0, iface: 0, fip: 1, server: 2, router: 3, network: 4, subnet: 5 };
    exact.sort((a, b) => (rank[a.kind] ?? 9) - (rank[b.kind] ?? 9));
    return exact.concat(partial).slice(0, 12);
  }

  const searchInput = document.getElementById("map-search");
  const results = d3.select("#map-search-results");
  function showResults() {
    const found = search(searchInput.value);
    results.attr("hidden", found.length || searchInput.value ? null : "");
    const li = results.selectAll("li").data(found.length ? found : [null], (n) => (n ? n.id : "none"));
    li.exit().remove();
    const enter = li.enter().append("li");
    enter.filter((n) => n).append("span").attr("class", "kind");
    enter.filter((n) => n).append("span").attr("class", "name");
    enter.filter((n) => !n).attr("class", "muted").text("no match");
    const all = enter.merge(li).order();
    all.filter((n) => n).select("span.kind").text((n) => n.kind);
    all.filter((n) => n).select("span.name").text((n) => n.label);
    all.on("click", (ev, n) => { if (n) { results.attr("hidden", ""); reveal(n.id); } });
  }
  searchInput.addEventListener("input", showResults);
  searchInput.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") {
      const found = search(searchInput.value);
      if (found.length) { results.attr("hidden", ""); reveal(found[0].id); }
    } else if (ev.key === "Escape") results.attr("hidden", "");
  });

  // --- focus on a node and its N-hop neighbourhood
  const hopsInput = document.getElementById("focus-hops");
  document.getElementById("focus-toggle").addEventListener("click", () => {
    state.focus = state.focus ? null : state.selected;
    render();
    scheduleHash();
  });
  hopsInput.addEventListener("change", () => {
    state.hops = Math.max(1, Math.min(6, parseInt(hopsInput.value, 10) || 2));
    if (state.focus) render();
    scheduleHash();
  });

  document.getElementById("collapse-all").addEventListener("click", () => setAllHosts(true));
  document.getElementById("expand-all").addEventListener("click", () => setAllHosts(false));
  document.getElementById("fit").addEventListener("click", fit);
  function setAllHosts(collapsed) {
    state.toggled.clear();
    for (const n of state.nodes.values()) if (n.kind === "host" && defaultCollapsed(n, state.nodes.size) !== collapsed) state.toggled.add(n.id);
    render();
    scheduleHash();
  }

  d3.selectAll("[data-view]").on("click", function () { switchView(this.getAttribute("data-view")); });
  function switchView(view) {
    if (view === state.view) return;
    state.view = view;
    state.focus = null;
    state.selected = null;
    state.toggled.clear();
    resync("view");
    scheduleHash();
  }

  // ------------------------------------------------------------------ packet path (GET /api/v1/path/)
  // Source and destination (a VM, a port, a floating IP or any IP) are picked by typing (the
  // logical graph's VMs/ports/floating IPs are offered), or from a node's details panel. The hops
  // are drawn as numbered badges over the nodes they name (several hops on one node share one
  // badge, a collapsed host gets the numbers of everything inside it) joined by a polyline; the
  // narrative beside the map is grouped by host. The path is asked again whenever the graph's
  // revision moves, so it follows live updates. Every string from the API goes through .text().
  const PATH_API = document.getElementById("path-panel").dataset.api || "/api/v1/path/";
  let pathHashTransform = false; // a permalink with a zoom keeps its zoom
  const SCENARIOS = {
    "north-south-snat": "north-south: out through the router's SNAT",
    "north-south-snat-dvr": "north-south (DVR): out through the snat namespace",
    "north-south-fip": "north-south with a floating IP",
    "north-south-fip-dvr": "north-south with a floating IP (DVR, through the fip namespace)",
    "inbound-fip": "inbound to a floating IP",
    "inbound-fip-dvr": "inbound to a floating IP (DVR, through the fip namespace)",
    "east-west": "east-west through the router",
    "east-west-dvr": "east-west (DVR, routed on each compute host)",
    "same-network": "on the same network (switched, not routed)",
  };
  const VERDICT_TEXT = { ok: "✓ the path works", broken: "✗ broken", unknown: "? unknown (missing evidence)" };
  const path = {
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
    showReturn: true, // draw return_hops (when the API gives them) on the map
  };

  // The endpoint a drawn node stands for (an id the path API resolves, or an IP), or null.
  function endpointOf(n) {
    if (!n) return null;
    const a = n.attrs || {};
    if (n.kind === "server" || n.kind === "port" || n.kind === "fip") return n.id;
    if (n.kind === "iface") {
      if (a.port_id) return "port:" + a.port_id;
      const ip = firstAddress(a.addresses);
      return ip;
    }
    if (n.kind === "netns" && a.role === "vm" && state.model) {
      for (const c of state.model.children.get(n.id) || []) {
        const ip = firstAddress((state.nodes.get(c).attrs || {}).addresses);
        if (ip) return ip;
      }
    }
    return null;
  }

  function firstAddress(addresses) {
    for (const addr of addresses || []) {
      const ip = String(addr).split("/")[0];
      if (ip && !ip.startsWith("127.") && ip !== "::1" && !ip.startsWith("fe80")) return ip;
    }
    return null;
  }

  const looksLikeIp = (s) => /^\d{1,3}(\.\d{1,3}){3}$/.test(s) || (/^[0-9a-f:]+$/i.test(s) && s.includes(":") && s.split(":").length > 2);

  function endpointNodes() {
    if (state.view === "logical") return state.nodes;
    return path.logical && path.logical.nodes;
  }

  async function loadLogical() {
    if (state.view === "logical") return;
    if (path.logical && path.logical.revision === state.revision) return;
    if (path.logicalLoading) return path.logicalLoading;
    path.logicalLoading = (async () => {
      try {
        const response = await fetch(config.api + "?view=logical", { credentials: "same-origin", headers: { Accept: "application/json" } });
        if (!response.ok) return;
        const data = await response.json();
        const nodes = new Map();
        for (const n of data.nodes) if (n.kind === "server" || n.kind === "port" || n.kind === "fip") nodes.set(n.id, n);
        path.logical = { revision: data.revision, nodes };
      } catch (err) {
        console.warn("map: the endpoint list did not load", err);
      } finally {
        path.logicalLoading = null;
      }
    })();
    return path.logicalLoading;
  }

  function endpointLabel(n) {
    const a = n.attrs || {};
    if (n.kind === "server") return n.label + " (VM)";
    if (n.kind === "fip") return (a.floating_ip_address || n.label) + " (floating IP)";
    const ips = (a.fixed_ips || []).map((ip) => ip.ip_address).filter(Boolean);
    const name = a.name || n.label; // a port's label is its address; its name says more
    return name + (ips.length && !ips.includes(name) ? " (port " + ips.join(", ") + ")" : " (port)");
  }

  function labelOfEndpoint(value) {
    const pool = endpointNodes();
    const n = (pool && pool.get(value)) || state.nodes.get(value);
    return n ? endpointLabel(n) : value;
  }

  function searchEndpoints(query) {
    const q = query.trim().toLowerCase();
    const out = [];
    if (!q) return out;
    if (looksLikeIp(q)) out.push({ value: q, label: q + " (IP address)", kind: "IP" });
    const pool = endpointNodes();
    if (!pool) return out;
    const rank = { server: 0, fip: 1, port: 2 };
    const exact = [], partial = [];
    for (const n of pool.values()) {
      if (!(n.kind in rank)) continue;
      const terms = searchTerms(n);
      if (terms.includes(q)) exact.push(n);
      else if (terms.some((t) => t.includes(q))) partial.push(n);
    }
    const byRank = (a, b) => rank[a.kind] - rank[b.kind] || d3.ascending(a.label, b.label);
    for (const n of exact.sort(byRank).concat(partial.sort(byRank)).slice(0, 12)) {
      out.push({ value: n.id, label: endpointLabel(n), kind: n.kind === "server" ? "VM" : n.kind === "fip" ? "floating IP" : "port" });
    }
    return out;
  }

  function setEndpoint(which, value, label) {
    path[which] = { value, label: label || labelOfEndpoint(value) };
    document.getElementById("path-" + which).value = path[which].label;
  }

  function endpointPicker(which) {
    const input = document.getElementById("path-" + which);
    const list = d3.select("#path-" + which + "-results");
    const show = async () => {
      path[which] = { value: "", label: input.value };
      await loadLogical();
      if (input.value !== path[which].label) return; // typed on meanwhile
      const found = searchEndpoints(input.value);
      list.attr("hidden", input.value.trim() ? null : "");
      const li = list.selectAll("li").data(found.length ? found : [null], (c) => (c ? c.value : "none"));
      li.exit().remove();
      const enter = li.enter().append("li");
      enter.filter((c) => c).append("span").attr("class", "kind");
      enter.filter((c) => c).append("span").attr("class", "name");
      enter.filter((c) => !c).attr("class", "muted").text("no match: an IP address or a node id also works");
      const all = enter.merge(li).order();
      all.filter((c) => c).attr("data-value", (c) => c.value);
      all.filter((c) => c).select("span.kind").text((c) => c.kind);
      all.filter((c) => c).select("span.name").text((c) => c.label);
      all.on("mousedown", (ev) => ev.preventDefault()).on("click", (ev, c) => {
        if (!c) return;
        list.attr("hidden", "");
        setEndpoint(which, c.value, c.label);
        if (path.src.value && path.dst.value) explainPath(true);
        else document.getElementById(which === "src" ? "path-dst" : "path-src").focus();
      });
    };
    input.addEventListener("input", show);
    input.addEventListener("focus", () => { loadLogical(); });
    input.addEventListener("blur", () => setTimeout(() => list.attr("hidden", ""), 150));
    input.addEventListener("keydown", (ev) => { if (ev.key === "Escape") list.attr("hidden", ""); });
  }
  endpointPicker("src");
  endpointPicker("dst");

  // What the form's field means: the picked endpoint, else a unique name, else the text (an IP or an id).
  function fieldValue(which) {
    if (path[which].value) return path[which].value;
    const text = document.getElementById("path-" + which).value.trim();
    if (!text) return "";
    const found = searchEndpoints(text).filter((c) => c.kind !== "IP");
    const exact = found.filter((c) => c.label.toLowerCase().startsWith(text.toLowerCase() + " (") || c.value === text);
    if (!looksLikeIp(text) && exact.length === 1) return exact[0].value;
    return text;
  }

  const probeSelect = document.getElementById("path-probe");
  const portInput = document.getElementById("path-port");
  probeSelect.addEventListener("change", () => {
    portInput.hidden = !(probeSelect.value === "tcp" || probeSelect.value === "udp");
    if (!portInput.hidden) portInput.focus();
  });

  function probeValue() {
    const v = probeSelect.value;
    if (v === "tcp" || v === "udp") return v + ":" + (parseInt(portInput.value, 10) || 80);
    return v;
  }

  function setProbe(text) {
    const m = /^(tcp|udp):(\d+)$/.exec(text || "");
    if (m) { probeSelect.value = m[1]; portInput.value = m[2]; portInput.hidden = false; }
    else { probeSelect.value = text === "ssh" ? "ssh" : "icmp"; portInput.hidden = true; }
    path.probe = probeValue();
  }

  document.getElementById("path-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    await loadLogical();
    const src = fieldValue("src"), dst = fieldValue("dst");
    if (!src || !dst) {
      showPathError("Choose a source and a destination: a VM, a port, a floating IP or any IP address.");
      return;
    }
    path.src = { value: src, label: document.getElementById("path-src").value || src };
    path.dst = { value: dst, label: document.getElementById("path-dst").value || dst };
    explainPath(true);
  });
  document.getElementById("path-clear").addEventListener("click", clearPath);
  document.getElementById("path-swap").addEventListener("click", () => {
    const s = path.src, d = path.dst;
    setEndpoint("src", d.value, d.label);
    setEndpoint("dst", s.value, s.label);
    if (path.src.value && path.dst.value && (path.result || path.error)) explainPath(true);
  });

  function clearPath() {
    clearTimeout(path.timer);
    path.result = null;
    path.error = null;
    path.src = { value: "", label: "" };
    path.dst = { value: "", label: "" };
    document.getElementById("path-src").value = "";
    document.getElementById("path-dst").value = "";
    setProbe("icmp");
    page.classList.remove("path-open");
    renderPathPanel();
    render();
    scheduleHash();
  }

  function showPathError(message) {
    path.result = null;
    path.error = message;
    page.classList.add("path-open");
    renderPathPanel();
    if (scene) render();
  }

  // Ask the API (again). A newer request while one is in flight runs right after it.
  async function explainPath(userAsked) {
    if (!path.src.value || !path.dst.value) return;
    path.probe = probeValue();
    if (userAsked) path.fitNext = true;
    if (path.loading) { path.again = true; return; }
    path.loading = true;
    path.requests += 1;
    stats.pathRequests = path.requests;
    page.classList.add("path-open");
    d3.select("#path-result").classed("loading", true);
    const url = PATH_API + "?" + new URLSearchParams({ src: path.src.value, dst: path.dst.value, probe: path.probe });
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.status === 401 || response.status === 403) { showPathError("Your session ended: log in again."); return; }
      let body = null;
      try { body = await response.json(); } catch (err) { body = null; }
      if (response.status === 404) {
        showPathError("Not found: " + ((body && body.detail) || "no such endpoint") +
          ". You can trace your own project's VMs, ports and floating IPs, and outside addresses.");
      } else if (!response.ok) {
        showPathError((body && body.detail) || "The path could not be explained (HTTP " + response.status + ").");
      } else {
        path.error = null;
        path.result = body;
        stats.pathRevision = body.revision;
        if (path.src.label === path.src.value || path.dst.label === path.dst.value) {
          await loadLogical();
          for (const which of ["src", "dst"]) if (path[which].label === path[which].value) setEndpoint(which, path[which].value);
        }
        render();
        renderPathPanel();
        if (path.fitNext) { path.fitNext = false; if (!pathHashTransform) fitPath(); }
        pathHashTransform = false;
      }
      scheduleHash();
    } catch (err) {
      showPathError("The path could not be asked for: " + err.message);
    } finally {
      path.loading = false;
      d3.select("#path-result").classed("loading", false);
      if (path.again) { path.again = false; explainPath(false); }
    }
  }

  // The graph moved on: the path is asked again (debounced) so it follows live updates.
  function pathFollows() {
    if (!path.src.value || !path.dst.value || (!path.result && !path.error)) return;
    if (path.result && path.result.revision === state.revision) return;
    clearTimeout(path.timer);
    path.timer = setTimeout(() => explainPath(false), 150);
  }

  // --- hops -> the nodes drawn in this view
  function portByPrefix() {
    if (path.prefixRevision === state.revision && path.prefixes) return path.prefixes;
    const prefixes = new Map();
    for (const n of state.nodes.values()) if (n.kind === "port") prefixes.set(n.id.slice(5, 16), n.id);
    path.prefixes = prefixes;
    path.prefixRevision = state.revision;
    return prefixes;
  }

  // A physical hop (iface/bridge/netns) named in the logical view: its port, router or network.
  function logicalFor(id) {
    const [kind, , ...rest] = id.split(":");
    const name = rest[rest.length - 1] || "";
    const nsName = kind === "netns" ? name : "";
    let m;
    if (kind === "iface" || kind === "bridge") {
      m = /^(tap|qvo|qvb|qbr|qr-|qg-|fg-|sg-|ns-|ha-)([0-9a-f-]{11})/.exec(name);
      if (m) return portByPrefix().get(m[2]) || null;
      return null;
    }
    if ((m = /^(qrouter|snat)-(.+)$/.exec(nsName))) return "router:" + m[2];
    if ((m = /^(qdhcp|fip)-(.+)$/.exec(nsName))) return "network:" + m[2];
    return null;
  }

  function serverOfPort(portId) {
    for (const e of state.edges.values()) if (e.kind === "runs" && e.target === portId) return e.source;
    return null;
  }

  // For each hop: the id drawn for it here (itself, its logical stand-in, or a collapsed ancestor).
  function drawnHops(hops, model) {
    const raw = hops.map((h) => {
      if (!h.node) return null;
      if (state.nodes.has(h.node)) return h.node;
      return state.view === "logical" ? logicalFor(h.node) : null;
    });
    // the lab's VM namespace stands for the VM: in the logical view, the server running the next hop's port
    hops.forEach((h, i) => {
      if (raw[i] || state.view !== "logical" || !/^netns:.*:vm-/.test(h.node || "")) return;
      for (const j of [i + 1, i - 1]) {
        const p = raw[j];
        if (p && p.startsWith("port:")) { raw[i] = serverOfPort(p) || p; break; }
      }
    });
    return raw.map((id) => {
      if (!id || !state.nodes.has(id)) return null;
      const shown = model.standFor(id);
      return model.visibleIds.has(shown) ? shown : null;
    });
  }

  // Where a hop's badge and the polyline go on a drawn node.
  // A box's badge sits on its left edge at the title's height, mostly outside: the title stays readable.
  function anchorOf(id, boxes, model, w) {
    const n = state.nodes.get(id);
    if (isContainer(n, model.view)) {
      const b = boxes.get(id);
      return { x: b.x0 - w / 2 + 5, y: b.y0 + 12 };
    }
    const p = state.positions.get(id);
    return { x: p.x, y: p.y };
  }

  function ranges(numbers, prefix) {
    const out = [];
    const p = prefix || "";
    for (const n of numbers) {
      const last = out[out.length - 1];
      if (last && n === last[1] + 1) last[1] = n;
      else out.push([n, n]);
    }
    return out.map(([a, b]) => (a === b ? p + a : b === a + 1 ? p + a + "," + p + b : p + a + "–" + p + b)).join(",");
  }

  // The way there, and (DVR east-west and other asymmetric walks) the way back: the reply is
  // routed by the destination host's qrouter, not the sender's. The return overlay is its own
  // dashed line with its own badges (R1, R2…), drawn a little off the forward one so the two
  // stay apart where they cross the same nodes; it can be hidden (path.showReturn).
  const RETURN_OFFSET = { glyph: -20, box: 20 };

  function hopsOverlay(hops, model, boxes, back) {
    const drawn = drawnHops(hops, model);
    const byNode = new Map();
    const sequence = [];
    drawn.forEach((id, i) => {
      if (!id) return;
      if (!byNode.has(id)) byNode.set(id, { id, numbers: [], status: "ok" });
      const b = byNode.get(id);
      b.numbers.push(i + 1);
      const st = hops[i].status;
      if (st === "fail" || (st === "warn" && b.status !== "fail") || (st === "unknown" && b.status === "ok")) b.status = st;
      if (sequence[sequence.length - 1] !== id) sequence.push(id);
    });
    const badges = Array.from(byNode.values()).map((b) => {
      const text = ranges(b.numbers, back ? "R" : "");
      const w = Math.max(18, text.length * 6.4 + 10);
      const a = anchorOf(b.id, boxes, model, w);
      if (back) a.y += isContainer(state.nodes.get(b.id), model.view) ? RETURN_OFFSET.box : RETURN_OFFSET.glyph;
      return { ...b, x: a.x, y: a.y, text, w };
    });
    // the polyline passes through the badges in hop order
    const at = new Map(badges.map((b) => [b.id, b]));
    const points = sequence.map((id) => [at.get(id).x, at.get(id).y]);
    const firstFail = hops.findIndex((h) => h.status === "fail");
    const failNode = firstFail >= 0 ? drawn.slice(firstFail).find(Boolean) : null;
    const failAt = failNode ? sequence.indexOf(failNode) : -1;
    return { badges, points, failAt, firstFail, drawn, onPath: new Set(byNode.keys()) };
  }

  function pathOverlay(model, boxes) {
    const r = path.result;
    if (!r || !r.hops || !r.hops.length) return null;
    const ov = { ...hopsOverlay(r.hops, model, boxes, false), verdict: r.verdict, back: null };
    if (r.return_hops && r.return_hops.length) {
      ov.back = hopsOverlay(r.return_hops, model, boxes, true);
      ov.back.shown = path.showReturn;
    }
    return ov;
  }

  // The return overlay when it is drawn, else null.
  function shownBack(ov) {
    return ov && ov.back && ov.back.shown ? ov.back : null;
  }

  const gPath = root.append("g").attr("class", "path-overlay");

  function lineSegments(ov, cls, verdictCls) {
    if (!ov || ov.points.length < 2) return [];
    if (ov.failAt < 0) return [{ key: cls + "-all", cls: cls + " " + verdictCls, pts: ov.points }];
    return [
      { key: cls + "-before", cls, pts: ov.points.slice(0, ov.failAt + 1) },
      { key: cls + "-after", cls: cls + " after-fail", pts: ov.points.slice(ov.failAt) },
    ].filter((s) => s.pts.length > 1);
  }

  function drawPathSvg() {
    const ov = scene && scene.path;
    const back = shownBack(ov);
    svg.classed("path-active", !!ov);
    const onPath = (n) => !!(ov && ov.onPath.has(n.id));
    const onReturn = (n) => !!(back && back.onPath.has(n.id));
    gBoxes.selectAll("g.box").classed("on-path", onPath).classed("on-return", onReturn);
    gNodes.selectAll("g.glyph").classed("on-path", onPath).classed("on-return", onReturn);
    const line = d3.line();
    // the way back under the way there
    const segments = lineSegments(back, "return-line", "")
      .concat(lineSegments(ov, "path-line", "verdict-" + (ov ? ov.verdict : "ok")));
    gPath.selectAll("path.path-line, path.return-line").data(segments, (s) => s.key)
      .join("path").attr("class", (s) => s.cls.trim()).attr("d", (s) => line(s.pts)).order();
    const badgeJoin = (cls, data) => gPath.selectAll("g." + cls).data(data, (b) => b.id)
      .join((enter) => {
        const g = enter.append("g");
        g.append("rect").attr("rx", 9).attr("height", 18).attr("y", -9);
        g.append("text").attr("text-anchor", "middle").attr("y", 4);
        return g;
      })
      .attr("class", (b) => cls + " status-" + b.status).attr("data-id", (b) => b.id)
      .attr("transform", (b) => "translate(" + b.x + "," + b.y + ")")
      .call((g) => g.select("rect").attr("x", (b) => -b.w / 2).attr("width", (b) => b.w))
      .call((g) => g.select("text").text((b) => b.text));
    badgeJoin("return-badge", back ? back.badges : []);
    badgeJoin("path-badge", ov ? ov.badges : []);
    gPath.selectAll("g.return-badge").raise();
    gPath.selectAll("g.path-badge").raise();
    gPath.raise();
  }

  const BADGE_FILL = { fail: "#c0392b", warn: "#b7791f", unknown: "#6b7483" };
  const RETURN_COLOUR = "#2a6fdb";

  function drawPathCanvas(ctx, k) {
    const ov = scene && scene.path;
    if (!ov) return;
    const back = shownBack(ov);
    ctx.globalAlpha = 0.85;
    ctx.lineJoin = "round";
    const stroke = (pts, color, dash, width) => {
      if (pts.length < 2) return;
      ctx.lineWidth = width / Math.max(k, 0.2);
      ctx.strokeStyle = color;
      ctx.setLineDash(dash.map((d) => d / Math.max(k, 0.2)));
      ctx.beginPath();
      pts.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      ctx.stroke();
    };
    if (back) {
      if (back.failAt >= 0) {
        stroke(back.points.slice(0, back.failAt + 1), RETURN_COLOUR, [10, 6], 4);
        stroke(back.points.slice(back.failAt), "#c0392b", [4, 6], 4);
      } else stroke(back.points, RETURN_COLOUR, [10, 6], 4);
    }
    if (ov.failAt >= 0) {
      stroke(ov.points.slice(0, ov.failAt + 1), "#e67e22", [], 5);
      stroke(ov.points.slice(ov.failAt), "#c0392b", [8, 6], 5);
    } else stroke(ov.points, ov.verdict === "ok" ? "#1f8a4c" : "#e67e22", [], 5);
    ctx.setLineDash([]);
    ctx.globalAlpha = 1;
    const s = 1 / Math.max(k, 0.35);
    const badges = (list, fill, textColour) => {
      for (const b of list) {
        const w = b.w * s, h = 18 * s;
        ctx.fillStyle = BADGE_FILL[b.status] || fill;
        ctx.fillRect(b.x - w / 2, b.y - h / 2, w, h);
        if (!BADGE_FILL[b.status] && textColour !== "#fff") {
          ctx.strokeStyle = RETURN_COLOUR;
          ctx.lineWidth = 1.5 * s;
          ctx.strokeRect(b.x - w / 2, b.y - h / 2, w, h);
        }
        ctx.fillStyle = BADGE_FILL[b.status] ? "#fff" : textColour;
        ctx.font = "bold " + Math.round(11 * s) + "px system-ui, sans-serif";
        ctx.textAlign = "center";
        ctx.fillText(b.text, b.x, b.y + 4 * s);
        ctx.textAlign = "start";
      }
    };
    if (back) badges(back.badges, "#fff", RETURN_COLOUR);
    badges(ov.badges, "#1d2430", "#fff");
  }

  // Zoom to the hops drawn (not to the whole map), the way back included.
  function fitPath() {
    const ov = scene && scene.path;
    if (!ov || !ov.badges.length) return;
    const all = ov.badges.concat(shownBack(ov) ? ov.back.badges : []);
    const xs = all.map((b) => b.x), ys = all.map((b) => b.y);
    const x0 = d3.min(xs) - 80, x1 = d3.max(xs) + 80, y0 = d3.min(ys) - 60, y1 = d3.max(ys) + 60;
    const rect = stage.getBoundingClientRect();
    const k = Math.max(0.05, Math.min(1.4, 0.95 * Math.min(rect.width / (x1 - x0 || 1), rect.height / (y1 - y0 || 1))));
    const t = d3.zoomIdentity.translate(rect.width / 2 - k * (x0 + x1) / 2, rect.height / 2 - k * (y0 + y1) / 2).scale(k);
    (state.renderer === "canvas" ? d3.select(canvas) : svg).call(zoom.transform, t);
  }

  // --- the narrative: the seed's walk, hop by hop, grouped by host
  // "cirros-01 (10.0.0.158)": the name picked in the form (or the node's), then the address.
  function describeEnd(end, picked) {
    if (!end) return picked.label || picked.value;
    if (end.kind === "outside") return (end.ip || picked.value) + " (outside)";
    let name = picked.label && picked.label !== picked.value ? picked.label : labelOfEndpoint(end.node);
    if (name === end.node) return end.ip || picked.value;
    name = name.replace(/ \((VM|port[^)]*|floating IP|IP address)\)$/, "");
    return name + (end.ip && name !== end.ip ? " (" + end.ip + ")" : "");
  }

  function renderPathPanel() {
    const box = d3.select("#path-result");
    box.selectAll("*").remove();
    if (path.error) {
      box.append("p").attr("class", "path-error").attr("role", "alert").text(path.error);
      return;
    }
    const r = path.result;
    if (!r) return;
    const back = r.return_hops || [];
    const backBroken = r.return_verdict === "broken" || back.some((h) => h.status === "fail");
    // The verdict counts the reply (a ping needs it); when only the reply fails, say the way there works.
    const thereBroken = r.hops.some((h) => h.status === "fail")
      || (r.problems || []).some((p) => p.severity === "fail" && p.direction !== "return");
    const head = box.append("div").attr("class", "path-verdict verdict-" + r.verdict);
    head.append("strong").attr("class", "verdict")
      .text(backBroken && !thereBroken ? "✓ the way there works" : VERDICT_TEXT[r.verdict] || r.verdict);
    head.append("span").attr("class", "scenario").text(" · " + (SCENARIOS[r.scenario] || r.scenario));
    if (backBroken) {
      head.append("div").attr("class", "return-verdict").text("✗ the reply is lost on the way back (see Return path)");
    }
    box.append("p").attr("class", "path-summary")
      .text(r.probe + " from " + describeEnd(r.src, path.src) + " to " + describeEnd(r.dst, path.dst) +
        ": " + r.hops.length + " hops" + (back.length ? ", " + back.length + " back" : "") + ", revision " + r.revision + ".");
    if (r.problems && r.problems.length) {
      box.append("h3").text("Problems");
      const ul = box.append("ul").attr("class", "path-problems");
      for (const p of r.problems) {
        const li = ul.append("li").attr("class", "severity-" + p.severity);
        li.append("code").text(p.code);
        li.append("span").text(" " + p.message);
        if (p.node && state.nodes.has(p.node)) {
          li.append("button").attr("type", "button").attr("class", "small").text("show").on("click", () => reveal(p.node));
        }
      }
    }
    const ov = scene && scene.path;
    narrative(box, r.hops, ov ? ov.drawn : [], "path-hops", "");
    returnSection(box, r, ov && ov.back);
  }

  // Walks whose reply crosses the same nodes in reverse: said in one line when the API gives no return_hops.
  const SYMMETRIC = new Set(["same-network", "east-west", "north-south-snat", "north-south-fip", "north-south-fip-dvr",
    "inbound-fip", "inbound-fip-dvr"]);

  function returnSection(box, r, back) {
    const hops = r.return_hops || [];
    const section = box.append("section").attr("class", "path-return").attr("aria-label", "Return path");
    const head = section.append("h3");
    head.append("span").attr("class", "return-key").attr("aria-hidden", "true");
    head.append("span").text("Return path");
    if (!hops.length) {
      section.classed("retraces", true).append("p").attr("class", "muted small return-note").text(
        SYMMETRIC.has(r.scenario) ? "The reply retraces these hops in reverse." : "The explainer does not walk the reply for this scenario.");
      return;
    }
    const failed = hops.findIndex((h) => h.status === "fail");
    const note = section.append("p").attr("class", "return-note small" + (failed >= 0 ? " broken" : ""));
    note.append("span").attr("class", "return-count").text(hops.length + " hops");
    note.append("span").text(failed >= 0
      ? ": the reply is lost at R" + (failed + 1) + "."
      : ": the reply does not retrace the way there (" + (SCENARIOS[r.scenario] || r.scenario) + ").");
    const toggle = section.append("label").attr("class", "return-toggle small");
    toggle.append("input").attr("type", "checkbox").attr("id", "path-return-toggle").property("checked", path.showReturn)
      .on("change", function () { setShowReturn(this.checked); });
    toggle.append("span").text(" draw it on the map (dashed, R1, R2…)");
    narrative(section, hops, back ? back.drawn : [], "path-hops return-hops", "R");
  }

  function setShowReturn(on) {
    path.showReturn = !!on;
    const box = document.getElementById("path-return-toggle");
    if (box) box.checked = path.showReturn;
    if (scene) render();
    scheduleHash();
  }

  function narrative(parent, hops, drawn, cls, prefix) {
    const ol = parent.append("ol").attr("class", cls);
    let group = null, lastHost;
    hops.forEach((hop, i) => {
      const host = hop.host || "";
      if (!group || host !== lastHost) {
        lastHost = host;
        const gli = ol.append("li").attr("class", "host-group");
        gli.append("div").attr("class", "host-name").text(host ? "on " + host : hop.node && hop.node.startsWith("network:") ? "outside" : "elsewhere");
        group = gli.append("ol").attr("class", "hops-of-host");
      }
      const li = group.append("li").attr("class", "hop status-" + hop.status).attr("data-hop", prefix + (i + 1))
        .attr("data-node", hop.node || "");
      const line = li.append("div").attr("class", "hop-line");
      line.append("span").attr("class", "hop-no").attr("title", hop.status).text(prefix + (i + 1));
      line.append("span").attr("class", "hop-what").text(hop.what);
      if (!hop.node) line.append("span").attr("class", "hop-unnamed muted").text(" (an infrastructure step: not shown on your map)");
      const target = drawn[i];
      if (target) {
        line.classed("clickable", true).attr("title", "show on the map").on("click", () => reveal(target));
      }
      if (hop.evidence) {
        const text = hop.evidence.startsWith("iptables: ") ? hop.evidence.replace(/ \| /g, "\n") : hop.evidence;
        li.append("pre").attr("class", "hop-evidence" + (hop.status === "fail" ? " reason" : "")).text(text);
      }
      if (hop.flows && hop.flows.length) {
        const det = li.append("details").attr("class", "hop-flows");
        const counts = hop.flows.map((f) => (/n_packets=(\d+)/.exec(f) || [])[1]).filter((c) => c !== undefined);
        det.append("summary").text("OpenFlow rules (" + hop.flows.length + ")" + (counts.length ? " · n_packets " + counts.join(", ") : ""));
        const pre = det.append("pre");
        for (const flow of hop.flows) {
          const row = pre.append("span").attr("class", "flow");
          // n_packets in bold: built from text nodes, never from HTML
          const parts = flow.split(/(n_packets=\d+)/);
          for (const part of parts) {
            if (/^n_packets=\d+$/.test(part)) row.append("b").text(part);
            else row.append("span").text(part);
          }
          pre.append("span").text("\n");
        }
      }
    });
  }

  // ------------------------------------------------------------------ side panel
  const PANEL_FIELDS = [
    ["describe", "what"], ["role", "role"], ["type", "type"], ["addresses", "addresses"], ["fixed_ips", "fixed IPs"],
    ["mac", "MAC"], ["mac_address", "MAC"], ["tag", "VLAN tag"], ["ovs_type", "OVS type"], ["ovs_bridge", "on bridge"],
    ["options", "options"], ["remote_host", "tunnel to"], ["network_type", "network type"],
    ["segmentation_id", "segmentation id / VNI"], ["physical_network", "physical network"], ["cidr", "CIDR"],
    ["gateway_ip", "gateway"], ["floating_ip_address", "floating IP"], ["fixed_ip_address", "fixed IP"],
    ["device_owner", "device owner"], ["binding_host_id", "bound to host"], ["vif_type", "VIF type"],
    ["external", "external"], ["shared", "shared"], ["mtu", "MTU"], ["distributed", "distributed (DVR)"], ["ha", "HA"],
    ["gateway_network_id", "gateway network"], ["tunnel_ip", "tunnel IP"], ["namespace", "namespace"],
    ["routes", "routes"], ["flow_count", "flows"], ["security_groups", "security groups"], ["port_id", "port"],
  ];

  function fmt(value) {
    if (value === true) return "yes";
    if (value === false) return "no";
    if (Array.isArray(value)) {
      return value.map((v) => (v && typeof v === "object" ? (v.ip_address || v.dst || JSON.stringify(v)) : String(v))).join(", ");
    }
    if (value && typeof value === "object") return Object.entries(value).map(([k, v]) => k + "=" + v).join(", ");
    return String(value);
  }

  function renderPanel() {
    const body = d3.select("#panel-body");
    body.selectAll("*").remove();
    const n = state.selected && state.nodes.get(state.selected);
    document.getElementById("panel-hint").hidden = !!n;
    if (!n) return;
    body.append("h2").text(n.label);
    body.append("p").attr("class", "muted").text(n.kind + (n.status ? " · " : ""))
      .append("span").attr("class", "status status-" + String(n.status || "").toLowerCase()).text(n.status || "");
    const dl = body.append("dl");
    const row = (k, v) => { dl.append("dt").text(k); dl.append("dd").text(v); };
    row("id", n.id);
    if (n.host) row("host", n.host);
    if (n.project_id) row("project", n.project_id);
    const a = n.attrs || {};
    for (const [key, name] of PANEL_FIELDS) {
      const v = a[key];
      if (v === undefined || v === null || v === "" || (Array.isArray(v) && !v.length)) continue;
      if (key === "options" && !Object.keys(v).length) continue;
      row(name, fmt(v));
    }
    if (n.kind === "host") {
      for (const ag of a.agents || []) row(ag.binary || ag.agent_type, ag.alive ? "alive" : "DEAD");
    }
    if ((a.warnings || []).length) {
      body.append("h3").text("Warnings");
      body.append("ul").attr("class", "warnings").selectAll("li").data(a.warnings).join("li").text((w) => w);
    }
    const actions = body.append("p").attr("class", "panel-actions");
    actions.append("button").attr("type", "button").text(state.focus === n.id ? "Unfocus" : "Focus " + state.hops + " hops")
      .on("click", () => { state.focus = state.focus === n.id ? null : n.id; render(); scheduleHash(); });
    const endpoint = endpointOf(n);
    if (endpoint) {
      const use = (which) => {
        setEndpoint(which, endpoint, n.kind === "server" || n.kind === "port" || n.kind === "fip" ? endpointLabel(n) : n.label + " (" + endpoint + ")");
        if (path.src.value && path.dst.value) explainPath(true);
        else document.getElementById(which === "src" ? "path-dst" : "path-src").focus();
      };
      actions.append("button").attr("type", "button").attr("class", "set-src").text("Set as source").on("click", () => use("src"));
      actions.append("button").attr("type", "button").attr("class", "set-dst").text("Set as destination").on("click", () => use("dst"));
    }
    if (n.kind === "host" || n.kind === "bridge") {
      actions.append("button").attr("type", "button").text(isCollapsed(n, state.model.count) ? "Expand" : "Collapse")
        .on("click", () => toggleCollapse(n.id));
    }
  }

  // ------------------------------------------------------------------ legend
  function renderLegend() {
    const legend = d3.select("#map-legend");
    legend.selectAll("*").remove();
    legend.append("h3").attr("title", "show/hide").text("Legend")
      .on("click", () => legend.classed("folded", !legend.classed("folded")));
    const kinds = kindsOf(state.view);
    const boxes = Object.entries(NODE_STYLE).filter(([k]) => kinds.has(k.split(":")[0]));
    const glyphs = Object.entries(GLYPH_STYLE).filter(([k]) => kinds.has(k.split(":")[0]));
    const links = Object.entries(LINK_STYLE).filter(([k]) => (state.view === "physical") === ["veth", "patch", "tunnel"].includes(k));
    const ul = legend.append("ul");
    for (const [, s] of boxes) {
      const li = ul.append("li");
      li.append("svg").attr("width", 18).attr("height", 12).append("rect").attr("x", 1).attr("y", 1).attr("width", 16).attr("height", 10).attr("rx", 2).attr("fill", s.fill).attr("stroke", s.stroke);
      li.append("span").text(s.label);
    }
    for (const [, s] of glyphs) {
      const li = ul.append("li");
      li.append("svg").attr("width", 18).attr("height", 12).append("path").attr("transform", "translate(9,6)").attr("d", d3.symbol(s.shape, 50)()).attr("fill", s.fill);
      li.append("span").text(s.label);
    }
    for (const [, s] of links) {
      const li = ul.append("li");
      li.append("svg").attr("width", 18).attr("height", 12).append("line").attr("x1", 1).attr("y1", 6).attr("x2", 17).attr("y2", 6).attr("stroke", s.stroke).attr("stroke-width", 2).attr("stroke-dasharray", s.dash);
      li.append("span").text(s.label);
    }
    const st = ul.append("li");
    st.append("svg").attr("width", 18).attr("height", 12).append("rect").attr("x", 1).attr("y", 1).attr("width", 16).attr("height", 10).attr("class", "legend-down");
    st.append("span").text("DOWN / agent dead");
    const stale = ul.append("li");
    stale.append("svg").attr("width", 18).attr("height", 12).append("rect").attr("x", 1).attr("y", 1).attr("width", 16).attr("height", 10).attr("class", "legend-stale");
    stale.append("span").text("STALE: no fresh agent report");
    const w = ul.append("li");
    const ws = w.append("svg").attr("width", 18).attr("height", 14).append("g").attr("class", "warn-badge").attr("transform", "translate(9,7)");
    ws.append("circle").attr("r", 6);
    ws.append("text").attr("text-anchor", "middle").attr("y", 4).text("!");
    w.append("span").text("warnings from the join");
    // the packet path's two overlays: shown while a path is open (CSS: .path-open, .path-has-return)
    const fwd = ul.append("li").attr("class", "legend-path");
    const fs = fwd.append("svg").attr("width", 26).attr("height", 14);
    fs.append("line").attr("x1", 1).attr("y1", 7).attr("x2", 25).attr("y2", 7).attr("class", "legend-path-line");
    fs.append("rect").attr("x", 7).attr("y", 1).attr("width", 12).attr("height", 12).attr("rx", 6).attr("class", "legend-path-badge");
    fwd.append("span").text("packet path (hops 1, 2…)");
    const ret = ul.append("li").attr("class", "legend-path legend-return");
    const rs = ret.append("svg").attr("width", 26).attr("height", 14);
    rs.append("line").attr("x1", 1).attr("y1", 7).attr("x2", 25).attr("y2", 7).attr("class", "legend-return-line");
    rs.append("rect").attr("x", 7).attr("y", 1).attr("width", 12).attr("height", 12).attr("rx", 6).attr("class", "legend-return-badge");
    ret.append("span").text("return path (R1, R2…)");
  }

  // ------------------------------------------------------------------ permalink (URL hash)
  let hashTimer = null;
  function scheduleHash() {
    clearTimeout(hashTimer);
    hashTimer = setTimeout(writeHash, 250);
  }

  function permalink() {
    const t = state.transform;
    const parts = ["view=" + state.view, "t=" + [t.k.toFixed(3), t.x.toFixed(0), t.y.toFixed(0)].join(",")];
    if (state.selected) parts.push("sel=" + encodeURIComponent(state.selected));
    if (state.focus) parts.push("focus=" + encodeURIComponent(state.focus), "hops=" + state.hops);
    if (state.toggled.size && state.toggled.size <= 50) parts.push("toggle=" + Array.from(state.toggled).map(encodeURIComponent).join(","));
    if (path.src.value && path.dst.value) {
      parts.push("src=" + encodeURIComponent(path.src.value), "dst=" + encodeURIComponent(path.dst.value));
      if (path.probe !== "icmp") parts.push("probe=" + encodeURIComponent(path.probe));
      if (!path.showReturn) parts.push("back=0");
    }
    return location.pathname + "#" + parts.join("&");
  }

  function writeHash() {
    history.replaceState(null, "", permalink());
  }

  function readHash() {
    const h = new URLSearchParams(location.hash.slice(1));
    const out = {};
    if (h.get("view") === "logical" || h.get("view") === "physical") state.view = h.get("view");
    if (h.get("hops")) state.hops = Math.max(1, Math.min(6, parseInt(h.get("hops"), 10) || 2));
    hopsInput.value = state.hops;
    if (h.get("focus")) out.focus = h.get("focus");
    if (h.get("sel")) out.selected = h.get("sel");
    if (h.get("toggle")) for (const id of h.get("toggle").split(",")) state.toggled.add(id);
    if (h.get("src") && h.get("dst")) {
      setProbe(h.get("probe") || "icmp");
      setEndpoint("src", h.get("src"));
      setEndpoint("dst", h.get("dst"));
      path.showReturn = h.get("back") !== "0";
      pendingPath = true;
      pathHashTransform = !!h.get("t");
    }
    const t = (h.get("t") || "").split(",").map(Number);
    if (t.length === 3 && t.every(Number.isFinite)) out.transform = d3.zoomIdentity.translate(t[1], t[2]).scale(t[0]);
    return out;
  }

  // A permalink pasted into this tab: only the hash changes, the page stays; the path follows it.
  window.addEventListener("hashchange", () => {
    const h = new URLSearchParams(location.hash.slice(1));
    const src = h.get("src"), dst = h.get("dst"), probe = h.get("probe") || "icmp";
    if (src && dst && (h.get("back") !== "0") !== path.showReturn) setShowReturn(h.get("back") !== "0");
    if (!src || !dst || (src === path.src.value && dst === path.dst.value && probe === path.probe)) return;
    setProbe(probe);
    setEndpoint("src", src);
    setEndpoint("dst", dst);
    explainPath(true);
  });

  document.getElementById("permalink").addEventListener("click", () => {
    writeHash();
    const url = location.href;
    if (navigator.clipboard) navigator.clipboard.writeText(url).catch(() => {});
    setLive("link copied: " + url.slice(0, 60) + (url.length > 60 ? "…" : ""));
  });

  // ------------------------------------------------------------------ export
  function download(name, blob) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  const EXPORT_CSS = [
    "text{font:11px system-ui,sans-serif;fill:#1d2430}", ".box-label{font-weight:600}", ".box-sub,.glyph-sub{fill:#6b7483;font-size:10px}",
    ".glyph-label{font-size:10px}", ".dim{opacity:.15}", ".st-down rect,.st-down path{stroke:#c0392b;stroke-dasharray:4 2;stroke-width:2}",
    ".warn-badge circle{fill:#b7791f}", ".warn-badge text{fill:#fff;font-weight:700}", "rect{stroke-width:1.2}", "line{fill:none}",
  ].join("");

  // The current view as a standalone SVG (drawn off-screen with the SVG renderer even on canvas).
  function exportSvgText() {
    const all = Array.from(scene.boxes.values());
    const x0 = d3.min(all, (b) => b.x0) - 20, y0 = d3.min(all, (b) => b.y0) - 20;
    const w = d3.max(all, (b) => b.x1) - x0 + 20, h = d3.max(all, (b) => b.y1) - y0 + 20;
    const clone = svg.node().cloneNode(true);
    if (state.renderer === "canvas") {
      const saved = state.renderer;
      drawSvg();
      clone.replaceChildren(root.node().cloneNode(true));
      gBoxes.selectAll("*").remove(); gLinks.selectAll("*").remove(); gNodes.selectAll("*").remove();
      state.renderer = saved;
    }
    clone.removeAttribute("hidden");
    clone.setAttribute("xmlns", "http://www.w3.org/2000/svg");
    clone.setAttribute("viewBox", [x0, y0, w, h].join(" "));
    clone.setAttribute("width", String(Math.round(w)));
    clone.setAttribute("height", String(Math.round(h)));
    clone.querySelector("g.map-root").removeAttribute("transform");
    const style = document.createElementNS("http://www.w3.org/2000/svg", "style");
    style.textContent = EXPORT_CSS;
    clone.insertBefore(style, clone.firstChild);
    const bg = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    for (const [k, v] of Object.entries({ x: x0, y: y0, width: w, height: h, fill: "#ffffff" })) bg.setAttribute(k, String(v));
    clone.insertBefore(bg, style.nextSibling);
    return { text: new XMLSerializer().serializeToString(clone), w, h };
  }

  function exportJson() {
    const ids = scene.model.visibleIds;
    return {
      revision: state.revision,
      view: state.view,
      nodes: Array.from(state.nodes.values()).filter((n) => ids.has(n.id)).map((n) => ({ ...n, position: state.positions.get(n.id) })),
      edges: Array.from(state.edges.values()).filter((e) => ids.has(e.source) && ids.has(e.target)),
    };
  }

  function exportAs(kind) {
    const stamp = "neutron-map-" + state.view + "-r" + state.revision;
    if (kind === "json") return download(stamp + ".json", new Blob([JSON.stringify(exportJson(), null, 1)], { type: "application/json" }));
    const { text, w, h } = exportSvgText();
    if (kind === "svg") return download(stamp + ".svg", new Blob([text], { type: "image/svg+xml" }));
    const scale = Math.min(2, 8000 / Math.max(w, h));
    const img = new Image();
    img.onload = () => {
      const c = document.createElement("canvas");
      c.width = Math.round(w * scale);
      c.height = Math.round(h * scale);
      const ctx = c.getContext("2d");
      ctx.scale(scale, scale);
      ctx.drawImage(img, 0, 0, w, h);
      c.toBlob((blob) => download(stamp + ".png", blob), "image/png");
    };
    img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(text);
  }
  d3.selectAll("[data-export]").on("click", function () { exportAs(this.getAttribute("data-export")); });

  // ------------------------------------------------------------------ live: REST + websocket
  function setLive(text, cls) {
    const el = document.getElementById("map-live");
    el.textContent = text;
    el.className = "live " + (cls || "");
  }

  let resyncAgain = false;
  async function resync(reason) {
    if (state.loading) { resyncAgain = true; return; }
    state.loading = true;
    state.buffer = [];
    setLive("loading…");
    try {
      const response = await fetch(config.api + "?view=" + encodeURIComponent(state.view), { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.status === 401 || response.status === 403) { location.reload(); return; }
      if (!response.ok) throw new Error("HTTP " + response.status);
      const data = await response.json();
      const viewChanged = !state.model || state.model.view !== state.view;
      loadGraph(data);
      if (viewChanged) { loadPositions(); renderLegend(); d3.selectAll("[data-view]").classed("active", function () { return this.getAttribute("data-view") === state.view; }); }
      render();
      if (viewChanged && !pendingHash) fit();
      applyPendingHash();
      for (const msg of state.buffer.splice(0)) onDelta(msg);
      if (pendingPath) { pendingPath = null; explainPath(true); } else pathFollows();
      if (state.socket && state.socket.readyState === WebSocket.OPEN) state.socket.send(JSON.stringify({ type: "topology.sync", revision: state.revision }));
      setLive("live · revision " + state.revision, "ok");
    } catch (err) {
      console.warn("map: resync failed (" + reason + ")", err);
      setLive("cannot load the map: retrying", "bad");
      setTimeout(() => resync("retry"), 3000);
    } finally {
      state.loading = false;
      if (resyncAgain) { resyncAgain = false; resync("again"); }
    }
  }

  let pendingHash = null;
  let pendingPath = null;
  function applyPendingHash() {
    if (!pendingHash) return;
    const h = pendingHash;
    pendingHash = null;
    if (h.transform) (state.renderer === "canvas" ? d3.select(canvas) : svg).call(zoom.transform, h.transform);
    if (h.focus && state.nodes.has(h.focus)) { state.focus = h.focus; state.selected = h.focus; render(); }
    if (h.selected && state.nodes.has(h.selected)) select(h.selected);
  }

  function onDelta(msg) {
    if (state.loading) { state.buffer.push(msg); return; }
    if (msg.revision <= state.revision) return;
    if (msg.base !== state.revision) { resync("gap " + msg.base + " != " + state.revision); return; }
    const started = performance.now();
    const touched = applyDelta(msg);
    for (const id of touched) state.fresh.add(id);
    render();
    stats.applied.push({ revision: msg.revision, ms: performance.now() - started, at: Date.now() });
    pathFollows();
    if (stats.applied.length > 500) stats.applied.shift();
    setLive("live · revision " + state.revision, "ok");
  }

  function connect() {
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + config.ws;
    const socket = new WebSocket(url);
    state.socket = socket;
    socket.onopen = () => { state.retry = 0; resync("connect"); };
    socket.onmessage = (ev) => {
      stats.wsFrames += 1;
      const msg = JSON.parse(ev.data);
      if (msg.type === "topology.delta") onDelta(msg);
      else if (msg.type === "topology.resync") resync(msg.reason || "server");
    };
    socket.onclose = (ev) => {
      if (ev.code === 4401) { setLive("session ended: log in again", "bad"); return; }
      setLive("disconnected: reconnecting", "bad");
      state.retry = Math.min(state.retry + 1, 6);
      setTimeout(connect, 500 * 2 ** state.retry);
    };
  }

  window.addEventListener("resize", () => { if (state.renderer === "canvas") drawCanvas(); });

  // A small handle for tests and benchmarks (read-only views of the state).
  window.neutronMap = {
    stats,
    get revision() { return state.revision; },
    get renderer() { return state.renderer; },
    get view() { return state.view; },
    get selected() { return state.selected; },
    positions: () => Object.fromEntries(Array.from(state.model ? state.model.visibleIds : [], (id) => [id, state.positions.get(id)])),
    visibleIds: () => Array.from(state.model ? state.model.visibleIds : []),
    elements: () => (scene ? { nodes: scene.model.visible.length, links: scene.links.length } : null),
    search: (q) => search(q).map((n) => n.id),
    reveal,
    fit,
    zoom: (k, x, y) => (state.renderer === "canvas" ? d3.select(canvas) : svg).call(zoom.transform, d3.zoomIdentity.translate(x, y).scale(k)),
    exportJson: () => exportJson(),
    exportSvg: () => exportSvgText().text,
    toggleCollapse,
    path: {
      get result() { return path.result; },
      get error() { return path.error; },
      get src() { return path.src.value; },
      get dst() { return path.dst.value; },
      get requests() { return path.requests; },
      badges: () => (scene && scene.path ? scene.path.badges.map((b) => ({ id: b.id, text: b.text, status: b.status })) : []),
      // the return overlay's badges as drawn (none when there are no return_hops or it is hidden)
      returnBadges: () => (shownBack(scene && scene.path) ? scene.path.back.badges.map((b) => ({ id: b.id, text: b.text, status: b.status })) : []),
      get showReturn() { return path.showReturn; },
      setShowReturn,
      explain: (src, dst, probe) => { setProbe(probe || "icmp"); setEndpoint("src", src); setEndpoint("dst", dst); return explainPath(true); },
      clear: clearPath,
    },
  };

  pendingHash = readHash();
  if (!pendingHash.focus && !pendingHash.selected && !pendingHash.transform) pendingHash = null;
  connect();
})();
