/* Stable positions: kept per node id (localStorage, per user, project and view); a new node is
 * placed where the fresh layout puts it relative to its kept parent or beside a linked
 * neighbour, shifted right until it overlaps nothing, so nothing already on screen moves.
 */
import { config, state } from "./store.js";
import { GLYPH, SLOT, isContainer, labelWidth } from "./style.js";
import { depthOf } from "./model.js";
import { GAP, HEADER, PAD, freshLayout } from "./layout.js";

const STORE_LIMIT = 20000; // positions kept in localStorage up to this many nodes

function storageKey() {
  return "neutron-map:pos:" + config.scopeKey + ":" + state.view;
}

export function loadPositions() {
  state.positions = new Map();
  try {
    const saved = JSON.parse(localStorage.getItem(storageKey()) || "{}");
    for (const [id, p] of Object.entries(saved)) state.positions.set(id, { x: p[0], y: p[1] });
  } catch (err) {
    console.warn("map: stored positions unreadable", err);
  }
}

export function savePositions() {
  if (state.positions.size > STORE_LIMIT) return; // big clouds: the layout is deterministic anyway
  const out = {};
  for (const [id, p] of state.positions) if (state.nodes.has(id)) out[id] = [Math.round(p.x), Math.round(p.y)];
  try { localStorage.setItem(storageKey(), JSON.stringify(out)); } catch (err) { console.warn("map: positions not saved", err); }
}

const overlaps = (a, b) => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
const glyphBox = (p) => ({ x0: p.x - SLOT / 2 + 4, y0: p.y - 16, x1: p.x + SLOT / 2 - 4, y1: p.y + 26 });

// Places the visible nodes without a position; returns their ids.
export function placeNew(model) {
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
    const boxes = siblings.map((o) => boxOf(o.id, model));
    const glyph = !isContainer(n, model.view);
    const rectAt = (x) => (glyph ? glyphBox({ x, y: want.y }) : { x0: x, y0: want.y, x1: x + size.w, y1: want.y + size.h });
    let x = want.x;
    for (let tries = 0; tries < 2000 && boxes.some((b) => overlaps(b, rectAt(x))); tries++) x += glyph ? SLOT : GAP;
    state.positions.set(n.id, { x, y: want.y });
    placed.push(n.id);
  }
  return placed;
}

// The box a drawn node covers: a glyph's cell, or a container's title box grown around its children.
function boxOf(id, model, memo) {
  if (memo && memo.has(id)) return memo.get(id);
  const n = state.nodes.get(id);
  const p = state.positions.get(id);
  let box;
  if (!isContainer(n, model.view)) box = glyphBox(p);
  else {
    box = { x0: p.x, y0: p.y, x1: p.x + Math.max(labelWidth(n), 120), y1: p.y + 36 };
    for (const k of model.kidsShown(id)) {
      if (!state.positions.has(k)) continue;
      const b = boxOf(k, model, memo);
      box.x0 = Math.min(box.x0, b.x0 - PAD);
      box.y0 = Math.min(box.y0, b.y0 - HEADER - PAD);
      box.x1 = Math.max(box.x1, b.x1 + PAD);
      box.y1 = Math.max(box.y1, b.y1 + PAD);
    }
  }
  if (memo) memo.set(id, box);
  return box;
}

export function allBoxes(model) {
  const boxes = new Map();
  for (const n of model.visible) boxOf(n.id, model, boxes);
  return boxes;
}
