/* The fresh layout: layered like the seeds' diagrams (outside on top, br-ex, routers and
 * namespaces, br-int, qbr, VMs at the bottom); the physical view packs hosts on shelves.
 * positions.js keeps what is on screen and asks this for the place of new nodes only.
 */
import { state } from "./store.js";
import { GLYPH, SLOT, isContainer, labelWidth } from "./style.js";

export const CHILD_H = 46, HEADER = 24, PAD = 10, ROW_GAP = 60, GAP = 28, MAXCOLS = 14;

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

export const byLabel = (a, b) => d3.ascending(state.nodes.get(a).label, state.nodes.get(b).label) || d3.ascending(a, b);

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
export function freshLayout(model) {
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
