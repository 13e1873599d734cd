/* The canvas renderer: the same picture as render-svg.js (same styles and status logic) for big
 * graphs, drawn only where the view is, with a quadtree to find what was clicked.
 */
import { state, stats } from "./store.js";
import { DOWN_STROKE, LINK_STYLE, TEXT_FILL, boxTitle, glyphStyle, nodeStyle, shorten, statusClass } from "./style.js";
import { canvas, scene, stage } from "./stage.js";
import { linkEnds } from "./render.js";
import { drawPathCanvas } from "./path-overlay.js";
import { diffStroke } from "./timeline-data.js";

let hitIndex = null;
export function buildHitIndex() {
  hitIndex = d3.quadtree().x((n) => state.positions.get(n.id).x).y((n) => state.positions.get(n.id).y).addAll(scene.glyphs);
}

function sizeCanvas(rect, ratio) {
  if (canvas.width !== Math.round(rect.width * ratio) || canvas.height !== Math.round(rect.height * ratio)) {
    canvas.width = Math.round(rect.width * ratio);
    canvas.height = Math.round(rect.height * ratio);
    canvas.style.width = rect.width + "px";
    canvas.style.height = rect.height + "px";
  }
}

function drawBoxes(ctx, inView, labels, fs) {
  for (const n of scene.containers) {
    const b = scene.boxes.get(n.id);
    if (!inView(b)) continue;
    const st = nodeStyle(n);
    ctx.globalAlpha = fs && !fs.has(n.id) ? 0.15 : 1;
    ctx.fillStyle = st.fill;
    ctx.strokeStyle = diffStroke(n.id) || (statusClass(n) === "st-down" ? DOWN_STROKE : st.stroke);
    ctx.fillRect(b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0);
    ctx.strokeRect(b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0);
    if (labels) {
      ctx.fillStyle = TEXT_FILL;
      ctx.font = "12px system-ui, sans-serif";
      ctx.fillText(boxTitle(n), b.x0 + 8, b.y0 + 16);
    }
  }
}

function drawLinks(ctx, inView, fs) {
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
}

function drawGlyphs(ctx, view, labels, fs) {
  for (const n of scene.glyphs) {
    const p = state.positions.get(n.id);
    if (p.x < view.x0 - 50 || p.x > view.x1 + 50 || p.y < view.y0 - 50 || p.y > view.y1 + 50) continue;
    ctx.globalAlpha = fs && !fs.has(n.id) ? 0.15 : 1;
    ctx.fillStyle = glyphStyle(n).fill;
    ctx.beginPath(); ctx.arc(p.x, p.y, 6, 0, 2 * Math.PI); ctx.fill();
    if (statusClass(n) === "st-down") { ctx.strokeStyle = DOWN_STROKE; ctx.stroke(); }
    if (diffStroke(n.id)) { ctx.strokeStyle = diffStroke(n.id); ctx.beginPath(); ctx.arc(p.x, p.y, 9, 0, 2 * Math.PI); ctx.stroke(); }
    if (labels) {
      ctx.fillStyle = TEXT_FILL;
      ctx.font = "10px system-ui, sans-serif";
      ctx.textAlign = "center";
      ctx.fillText(shorten(n.label, 16), p.x, p.y + 20);
      ctx.textAlign = "start";
    }
  }
}

export function drawCanvas() {
  if (!scene) return;
  const rect = stage.getBoundingClientRect();
  const ratio = window.devicePixelRatio || 1;
  sizeCanvas(rect, ratio);
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
  drawBoxes(ctx, inView, labels, fs);
  drawLinks(ctx, inView, fs);
  drawGlyphs(ctx, view, labels, fs);
  drawPathCanvas(ctx, t.k);
  if (state.selected && state.positions.has(state.selected) && scene.boxes.has(state.selected)) {
    const b = scene.boxes.get(state.selected);
    ctx.globalAlpha = 1; ctx.strokeStyle = "#2a6fdb"; ctx.lineWidth = 3 / Math.max(t.k, 0.2);
    ctx.strokeRect(b.x0 - 3, b.y0 - 3, b.x1 - b.x0 + 6, b.y1 - b.y0 + 6);
  }
  ctx.globalAlpha = 1;
  stats.frames = (stats.frames || 0) + 1;
}

// The node under a click on the canvas: the nearest glyph, else the smallest box around the point.
export function canvasHit(event) {
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
