/* One frame: the model (model.js), positions for what is new (positions.js), the boxes, the
 * path overlay, then the SVG or, above config.canvasThreshold elements, the canvas renderer.
 */
import { config, state, stats } from "./store.js";
import { isContainer } from "./style.js";
import { buildModel, depthOf, focusSet, isCollapsed } from "./model.js";
import { allBoxes, placeNew, savePositions } from "./positions.js";
import { canvas, clearSvg, gPath, page, scene, setScene, svg } from "./stage.js";
import { drawSvg } from "./render-svg.js";
import { buildHitIndex, drawCanvas } from "./render-canvas.js";
import { pathOverlay, shownBack } from "./path-overlay.js";
import { renderPanel } from "./panel.js";

// Where a link's ends are drawn: a glyph's position, a box's centre.
export function linkEnds(l, boxes) {
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
  const next = { model, boxes, containers, glyphs, links: model.links, focusSet: focusSet(model) };
  setScene(next);
  next.path = pathOverlay(model, boxes);
  page.classList.toggle("path-has-return", !!shownBack(next.path));
  return placed;
}

export function render() {
  const t0 = performance.now();
  buildScene();
  const useCanvas = scene.model.visible.length + scene.links.length > config.canvasThreshold;
  state.renderer = useCanvas ? "canvas" : "svg";
  svg.attr("hidden", useCanvas ? "" : null);
  canvas.hidden = !useCanvas;
  document.getElementById("map-empty").hidden = scene.model.visible.length > 0;
  if (useCanvas) {
    clearSvg();
    gPath.selectAll("*").remove();
    buildHitIndex();
    drawCanvas();
  } else {
    drawSvg();
  }
  state.fresh.clear();
  stats.draws += 1;
  state.drawnView = state.loadedView;
  stats.lastDrawMs = performance.now() - t0;
  stats.drawnRevision = state.revision;
  stats.drawnAt = Date.now();
  if (stats.firstDrawnAt === null) stats.firstDrawnAt = performance.now();
  page.dataset.revision = String(state.revision);
  page.dataset.renderer = state.renderer;
  renderPanel();
}
