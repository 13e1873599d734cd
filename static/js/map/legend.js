/* The legend of the view shown: the same styles the renderers draw with (style.js). */
import { kindsOf, state } from "./store.js";
import { GLYPH_STYLE, LINK_STYLE, NODE_STYLE } from "./style.js";

const PHYSICAL_LINKS = ["veth", "patch", "tunnel"];

function swatch(ul, width, height, cls) {
  const li = ul.append("li").attr("class", cls || null);
  return { li, svg: li.append("svg").attr("width", width).attr("height", height) };
}

function pathKeys(ul) {
  // the packet path's two overlays: shown while a path is open (CSS: .path-open, .path-has-return)
  const fwd = swatch(ul, 26, 14, "legend-path");
  fwd.svg.append("line").attr("x1", 1).attr("y1", 7).attr("x2", 25).attr("y2", 7).attr("class", "legend-path-line");
  fwd.svg.append("rect").attr("x", 7).attr("y", 1).attr("width", 12).attr("height", 12).attr("rx", 6).attr("class", "legend-path-badge");
  fwd.li.append("span").text("packet path (hops 1, 2…)");
  const ret = swatch(ul, 26, 14, "legend-path legend-return");
  ret.svg.append("line").attr("x1", 1).attr("y1", 7).attr("x2", 25).attr("y2", 7).attr("class", "legend-return-line");
  ret.svg.append("rect").attr("x", 7).attr("y", 1).attr("width", 12).attr("height", 12).attr("rx", 6).attr("class", "legend-return-badge");
  ret.li.append("span").text("return path (R1, R2…)");
}

export function renderLegend() {
  const legend = d3.select("#map-legend");
  legend.selectAll("*").remove();
  legend.append("h3").attr("title", "show/hide").text("Legend")
    .on("click", () => legend.classed("folded", !legend.classed("folded")));
  const kinds = kindsOf(state.view);
  const boxes = Object.entries(NODE_STYLE).filter(([k]) => kinds.has(k.split(":")[0]));
  const glyphs = Object.entries(GLYPH_STYLE).filter(([k]) => kinds.has(k.split(":")[0]));
  const links = Object.entries(LINK_STYLE).filter(([k]) => (state.view === "physical") === PHYSICAL_LINKS.includes(k));
  const ul = legend.append("ul");
  for (const [, s] of boxes) {
    const { li, svg } = swatch(ul, 18, 12);
    svg.append("rect").attr("x", 1).attr("y", 1).attr("width", 16).attr("height", 10).attr("rx", 2).attr("fill", s.fill).attr("stroke", s.stroke);
    li.append("span").text(s.label);
  }
  for (const [, s] of glyphs) {
    const { li, svg } = swatch(ul, 18, 12);
    svg.append("path").attr("transform", "translate(9,6)").attr("d", d3.symbol(s.shape, 50)()).attr("fill", s.fill);
    li.append("span").text(s.label);
  }
  for (const [, s] of links) {
    const { li, svg } = swatch(ul, 18, 12);
    svg.append("line").attr("x1", 1).attr("y1", 6).attr("x2", 17).attr("y2", 6).attr("stroke", s.stroke).attr("stroke-width", 2).attr("stroke-dasharray", s.dash);
    li.append("span").text(s.label);
  }
  for (const [cls, text] of [["legend-down", "DOWN / agent dead"], ["legend-stale", "STALE: no fresh agent report"]]) {
    const { li, svg } = swatch(ul, 18, 12);
    svg.append("rect").attr("x", 1).attr("y", 1).attr("width", 16).attr("height", 10).attr("class", cls);
    li.append("span").text(text);
  }
  const w = swatch(ul, 18, 14);
  const ws = w.svg.append("g").attr("class", "warn-badge").attr("transform", "translate(9,7)");
  ws.append("circle").attr("r", 6);
  ws.append("text").attr("text-anchor", "middle").attr("y", 4).text("!");
  w.li.append("span").text("warnings from the join");
  pathKeys(ul);
}
