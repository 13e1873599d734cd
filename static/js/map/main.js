/* The live map (templates/map.html): native ES modules over the vendored d3 (a global), no build.
 *
 *   store.js      state, REST load, deltas          model.js       containers, collapse, drawn links
 *   layout.js     fresh layered layout              positions.js   stable positions, boxes
 *   style.js      styles and status (both renderers) render.js     one frame: SVG or canvas
 *   render-svg.js / render-canvas.js                stage.js       zoom, fit (clear of the legend)
 *   interaction.js select, search, focus             panel.js, legend.js
 *   collapsed.js  the physical view at scale: hosts with counts, expanded on demand, search by the API
 *   path-state.js / path-form.js / path-overlay.js / path-panel.js: the packet path
 *   export.js, permalink.js, live.js (websocket via ../lib/net.js)
 *   timeline.js / timeline-data.js: the history under the map, a past revision, a compare
 *
 * Names come from tenants: they only ever reach the page through .text().
 */
import { state, stats } from "./store.js";
import { search } from "./search.js";
import { fit, scene, zoomTo } from "./stage.js";
import { initInteraction, reveal, toggleCollapse } from "./interaction.js";
import { clearPath, explainPath, initPathForm, setProbe, setShowReturn } from "./path-form.js";
import { shownBack } from "./path-overlay.js";
import { path, setEndpoint } from "./path-state.js";
import { exportJson, exportSvgText, initExport } from "./export.js";
import { initPermalink, readHash } from "./permalink.js";
import { connect } from "./live.js";
import { backToLive, compareWith, goTo, initTimeline } from "./timeline.js";
import { past } from "./timeline-data.js";
import { expandHost, searchRemote } from "./collapsed.js";

const badgeList = (badges) => badges.map((b) => ({ id: b.id, text: b.text, status: b.status }));

// A small handle for tests and benchmarks (read-only views of the state).
window.neutronMap = {
  stats,
  get revision() { return state.revision; },
  get renderer() { return state.renderer; },
  get view() { return state.view; },
  // The view last drawn: `view` changes at the click, this once that view's graph is loaded and drawn.
  get drawnView() { return state.drawnView; },
  get selected() { return state.selected; },
  positions: () => Object.fromEntries(Array.from(state.model ? state.model.visibleIds : [], (id) => [id, state.positions.get(id)])),
  visibleIds: () => Array.from(state.model ? state.model.visibleIds : []),
  elements: () => (scene ? { nodes: scene.model.visible.length, links: scene.links.length } : null),
  search: (q) => search(q).map((n) => n.id),
  reveal,
  fit,
  zoom: (k, x, y) => zoomTo(d3.zoomIdentity.translate(x, y).scale(k)),
  exportJson: () => exportJson(),
  exportSvg: () => exportSvgText().text,
  toggleCollapse,
  // the collapsed physical view (collapsed.js): null while the whole view is loaded
  collapsed: () => (state.collapsed ? { expanded: Array.from(state.collapsed.expanded) } : null),
  expandHost,
  searchRemote,
  timeline: {
    get revision() { return past.revision; },
    get compare() { return past.compare; },
    diff: () => (past.diff ? { added: [...past.diff.added], removed: [...past.diff.removed], changed: [...past.diff.changed] } : null),
    goTo,
    compareWith,
    backToLive,
  },
  path: {
    get result() { return path.result; },
    get error() { return path.error; },
    get src() { return path.src.value; },
    get dst() { return path.dst.value; },
    get requests() { return path.requests; },
    badges: () => (scene && scene.path ? badgeList(scene.path.badges) : []),
    // the return overlay's badges as drawn (none when there are no return_hops or it is hidden)
    returnBadges: () => (shownBack(scene && scene.path) ? badgeList(scene.path.back.badges) : []),
    get showReturn() { return path.showReturn; },
    setShowReturn,
    explain: (src, dst, probe) => { setProbe(probe || "icmp"); setEndpoint("src", src); setEndpoint("dst", dst); return explainPath(true); },
    clear: clearPath,
  },
};

initInteraction();
initPathForm();
initPermalink();
initExport();
readHash();
initTimeline();
connect();
