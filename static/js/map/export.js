/* Export of the current view: a standalone SVG (drawn with the SVG renderer even on canvas), a PNG
 * of that SVG, or the JSON of the nodes drawn (with their positions) and the edges between them.
 */
import { state } from "./store.js";
import { clearSvg, root, scene, svg } from "./stage.js";
import { drawSvg } from "./render-svg.js";

const EXPORT_CSS = [
  "text{font:11px system-ui,sans-serif;fill:#1d2430}", ".box-label{font-weight:600}", ".box-sub,.glyph-sub{fill:#6b7483;font-size:10px}",
  ".glyph-label{font-size:10px}", ".dim{opacity:.15}", ".st-down rect,.st-down path{stroke:#c0392b;stroke-dasharray:4 2;stroke-width:2}",
  ".warn-badge circle{fill:#b7791f}", ".warn-badge text{fill:#fff;font-weight:700}", "rect{stroke-width:1.2}", "line{fill:none}",
].join("");

function download(name, blob) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

export function exportSvgText() {
  const all = Array.from(scene.boxes.values());
  const x0 = d3.min(all, (b) => b.x0) - 20, y0 = d3.min(all, (b) => b.y0) - 20;
  const w = d3.max(all, (b) => b.x1) - x0 + 20, h = d3.max(all, (b) => b.y1) - y0 + 20;
  const clone = svg.node().cloneNode(true);
  if (state.renderer === "canvas") {
    const saved = state.renderer;
    drawSvg();
    clone.replaceChildren(root.node().cloneNode(true));
    clearSvg();
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

export function exportJson() {
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

export function initExport() {
  d3.selectAll("[data-export]").on("click", function () { exportAs(this.getAttribute("data-export")); });
}
