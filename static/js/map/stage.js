/* The drawing surface: the SVG layers, the canvas, the zoom behaviour shared by both, the scene
 * last built (render.js), and the fits, which keep clear of the legend in the stage's lower left.
 */
import { state } from "./store.js";
import { drawCanvas } from "./render-canvas.js";
import { scheduleHash } from "./permalink.js";

export const page = document.getElementById("map-page");
export const stage = document.getElementById("map-stage");
export const legendBox = document.getElementById("map-legend");
export const svg = d3.select("#map-svg");
export const canvas = document.getElementById("map-canvas");
export const root = svg.append("g").attr("class", "map-root");
export const gBoxes = root.append("g").attr("class", "boxes");
export const gLinks = root.append("g").attr("class", "links");
export const gNodes = root.append("g").attr("class", "glyphs");
export const gPath = root.append("g").attr("class", "path-overlay");

// {model, boxes, containers, glyphs, links, focusSet, path}: what the renderers draw
export let scene = null;
export function setScene(next) {
  scene = next;
}

export const zoom = d3.zoom().scaleExtent([0.02, 4]).on("zoom", (ev) => {
  state.transform = ev.transform;
  if (state.renderer === "svg") root.attr("transform", ev.transform);
  else drawCanvas();
  scheduleHash();
});
svg.call(zoom).on("dblclick.zoom", null);
d3.select(canvas).call(zoom).on("dblclick.zoom", null);

export function clearSvg() {
  gBoxes.selectAll("*").remove();
  gLinks.selectAll("*").remove();
  gNodes.selectAll("*").remove();
}

export function zoomTo(transform) {
  (state.renderer === "canvas" ? d3.select(canvas) : svg).call(zoom.transform, transform);
}

// The parts of the stage the legend leaves free (right of it, above it), or the whole stage.
function freeAreas(rect) {
  const whole = [{ x: 0, y: 0, w: rect.width, h: rect.height }];
  const l = legendBox.getBoundingClientRect();
  if (!l.width || !l.height) return whole;
  const margin = 8;
  const right = { x: l.right - rect.left + margin, y: 0, w: rect.right - l.right - margin, h: rect.height };
  const above = { x: 0, y: 0, w: rect.width, h: l.top - rect.top - margin };
  const areas = [right, above].filter((a) => a.w > 40 && a.h > 40);
  return areas.length ? areas : whole;
}

// The transform showing map box [x0, y0, x1, y1] as large as it fits in a free area (times `fill`).
export function fitTransform(x0, y0, x1, y1, fill, kMin, kMax) {
  const rect = stage.getBoundingClientRect();
  let best = null;
  for (const a of freeAreas(rect)) {
    const k = Math.max(kMin, Math.min(kMax, fill * Math.min(a.w / (x1 - x0 || 1), a.h / (y1 - y0 || 1))));
    if (!best || k > best.k) best = { k, a };
  }
  const { k, a } = best;
  return d3.zoomIdentity.translate(a.x + a.w / 2 - k * (x0 + x1) / 2, a.y + a.h / 2 - k * (y0 + y1) / 2).scale(k);
}

// The whole view (and the path's badges, which sit a little outside their boxes), clear of the legend.
export function fit() {
  if (!scene || !scene.boxes.size) return;
  const all = Array.from(scene.boxes.values());
  const ov = scene.path;
  for (const b of ov ? ov.badges.concat(ov.back && ov.back.shown ? ov.back.badges : []) : []) {
    all.push({ x0: b.x - b.w / 2, y0: b.y - 9, x1: b.x + b.w / 2, y1: b.y + 9 });
  }
  const x0 = d3.min(all, (b) => b.x0), y0 = d3.min(all, (b) => b.y0), x1 = d3.max(all, (b) => b.x1), y1 = d3.max(all, (b) => b.y1);
  zoomTo(fitTransform(x0, y0, x1, y1, 0.92, 0, 1.5));
}

export function centreOn(id) {
  const p = state.positions.get(id);
  if (!p) return;
  const rect = stage.getBoundingClientRect();
  const k = Math.max(state.transform.k, 1);
  zoomTo(d3.zoomIdentity.translate(rect.width / 2 - k * p.x, rect.height / 2 - k * p.y).scale(k));
}
