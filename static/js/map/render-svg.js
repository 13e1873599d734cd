/* The SVG renderer (d3 joins keyed by node id): boxes for containers, glyphs for the rest,
 * lines for links; styles and status classes from style.js, as the canvas renderer uses them.
 */
import { state } from "./store.js";
import {
  LINK_STYLE, SLOT, boxSubtitle, boxTitle, glyphStyle, glyphSubtitle, nodeStyle, shorten, statusClass,
} from "./style.js";
import { isCollapsed } from "./model.js";
import { gBoxes, gLinks, gNodes, scene } from "./stage.js";
import { linkEnds } from "./render.js";
import { drawPathSvg } from "./path-overlay.js";
import { diffClass } from "./timeline-data.js";

const classOf = (n, base, dim) => base + " kind-" + n.kind + " " + statusClass(n) + dim(n.id)
  + (state.selected === n.id ? " selected" : "") + (state.fresh.has(n.id) ? " fresh" : "") + diffClass(n.id);

function drawBoxes(dim) {
  const { boxes, model } = scene;
  const box = gBoxes.selectAll("g.box").data(scene.containers, (n) => n.id);
  box.exit().remove();
  const boxEnter = box.enter().append("g").attr("class", "box");
  boxEnter.append("rect").attr("rx", 6);
  boxEnter.append("text").attr("class", "box-label");
  boxEnter.append("text").attr("class", "box-sub");
  boxEnter.append("g").attr("class", "badge");
  const boxAll = boxEnter.merge(box)
    .attr("data-id", (n) => n.id)
    .attr("class", (n) => classOf(n, "box", dim) + (isCollapsed(n, model.count) ? " collapsed" : ""))
    .order();
  boxAll.select("rect")
    .attr("x", (n) => boxes.get(n.id).x0).attr("y", (n) => boxes.get(n.id).y0)
    .attr("width", (n) => boxes.get(n.id).x1 - boxes.get(n.id).x0)
    .attr("height", (n) => boxes.get(n.id).y1 - boxes.get(n.id).y0)
    .attr("fill", (n) => nodeStyle(n).fill)
    .attr("stroke", (n) => nodeStyle(n).stroke);
  boxAll.select("text.box-label")
    .attr("x", (n) => boxes.get(n.id).x0 + 8).attr("y", (n) => boxes.get(n.id).y0 + 16)
    .text((n) => boxTitle(n));
  boxAll.select("text.box-sub")
    .attr("x", (n) => boxes.get(n.id).x0 + 8).attr("y", (n) => boxes.get(n.id).y0 + 30)
    .text((n) => (isCollapsed(n, model.count) || !model.kidsShown(n.id).length ? boxSubtitle(n, model) : ""));
  boxAll.each(function (n) { drawBadge(d3.select(this).select("g.badge"), n, boxes.get(n.id).x1 - 10, boxes.get(n.id).y0 + 10); });
}

function drawLinks(fs) {
  const link = gLinks.selectAll("line").data(scene.links, (l) => l.key);
  link.exit().remove();
  link.enter().append("line").merge(link)
    .attr("class", (l) => "link link-" + l.kind + (fs && !(fs.has(l.source) && fs.has(l.target)) ? " dim" : ""))
    .attr("stroke", (l) => LINK_STYLE[l.kind].stroke)
    .attr("stroke-dasharray", (l) => LINK_STYLE[l.kind].dash)
    .attr("stroke-width", (l) => Math.min(1.5 + Math.log2(l.count), 6))
    .each(function (l) {
      const [a, b] = linkEnds(l, scene.boxes);
      d3.select(this).attr("x1", a.x).attr("y1", a.y).attr("x2", b.x).attr("y2", b.y);
    });
}

function drawGlyphs(dim) {
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
    .attr("class", (n) => classOf(n, "glyph", dim))
    .attr("transform", (n) => { const p = state.positions.get(n.id); return "translate(" + p.x + "," + p.y + ")"; });
  gAll.select("path.shape")
    .attr("d", (n) => d3.symbol(glyphStyle(n).shape, n.kind === "fip" ? 150 : 110)())
    .attr("fill", (n) => glyphStyle(n).fill);
  gAll.select("text.glyph-label").text((n) => shorten(n.label, 16));
  gAll.select("text.glyph-sub").text((n) => glyphSubtitle(n));
  gAll.each(function (n) { drawBadge(d3.select(this).select("g.badge"), n, 9, -9); });
}

export function drawSvg() {
  const fs = scene.focusSet;
  const dim = (id) => (fs && !fs.has(id) ? " dim" : "");
  drawBoxes(dim);
  drawLinks(fs);
  drawGlyphs(dim);
  drawPathSvg();
}

// The warnings of the join as a "!" badge (their text in a <title>).
export function drawBadge(g, n, x, y) {
  const warn = ((n.attrs && n.attrs.warnings) || []).length;
  g.selectAll("*").remove();
  if (!warn) return;
  g.attr("transform", "translate(" + x + "," + y + ")").attr("class", "badge warn-badge");
  g.append("circle").attr("r", 7);
  g.append("text").attr("text-anchor", "middle").attr("y", 4).text("!");
  g.append("title").text(n.attrs.warnings.join("\n"));
}
