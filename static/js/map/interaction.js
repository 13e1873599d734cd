/* What the user does on the map: select (click), collapse (double click), search, focus on a
 * node's neighbourhood, collapse or expand all hosts, fit, switch view.
 */
import { state } from "./store.js";
import { defaultCollapsed, isCollapsed, isCollapsible } from "./model.js";
import { search } from "./search.js";
import { canvas, centreOn, fit, gBoxes, gNodes, svg } from "./stage.js";
import { render } from "./render.js";
import { canvasHit, drawCanvas } from "./render-canvas.js";
import { renderPanel } from "./panel.js";
import { scheduleHash } from "./permalink.js";
import { resync } from "./live.js";
import { collapseHost, expandHost, focusTarget, isExpanded, searchRemote } from "./collapsed.js";

export const hopsInput = document.getElementById("focus-hops");
const searchInput = document.getElementById("map-search");

function idFromEvent(event) {
  if (state.renderer === "canvas") return canvasHit(event);
  const el = event.target.closest && event.target.closest("[data-id]");
  return el ? el.getAttribute("data-id") : null;
}

export function select(id) {
  state.selected = id && state.nodes.has(id) ? id : null;
  document.getElementById("focus-toggle").disabled = !state.selected && !state.focus;
  if (state.renderer === "svg") {
    gBoxes.selectAll("g.box").classed("selected", (n) => n.id === state.selected);
    gNodes.selectAll("g.glyph").classed("selected", (n) => n.id === state.selected);
  } else drawCanvas();
  renderPanel();
  scheduleHash();
}

export async function toggleCollapse(id) {
  const n = id && state.nodes.get(id);
  if (!n || !isCollapsible(n)) return;
  if (state.collapsed && n.kind === "host") { // its content fetched when expanded (collapsed.js)
    if (isExpanded(id)) collapseHost(id);
    else if (!(await expandHost(id))) return;
    render();
    scheduleHash();
    return;
  }
  if (state.toggled.has(id)) state.toggled.delete(id); else state.toggled.add(id);
  render();
  scheduleHash();
}

export function toggleFocus(id) {
  state.focus = state.focus === id ? null : id;
  render();
  scheduleHash();
}

// Bring a node into view: expand its collapsed containers, select it, centre on it.
export function reveal(id) {
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

// The matches of the search box: from the loaded nodes, or from the API while the view is collapsed.
async function found() {
  return state.collapsed ? searchRemote(searchInput.value) : search(searchInput.value);
}

// Show a result: a remote one's host expanded first (collapsed.js), then the node revealed.
async function show(n) {
  if (!state.collapsed) { reveal(n.id); return; }
  const id = await focusTarget(n);
  render(); // with the host's content, if it was fetched
  if (id) reveal(id);
}

function showResults(results, found) {
  if (found === null) return; // an answer to an older query
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
  all.on("click", (ev, n) => { if (n) { results.attr("hidden", ""); show(n); } });
}

function setAllHosts(collapsed) {
  if (state.collapsed) { // hosts are fetched one by one: "collapse all" only
    if (collapsed) for (const id of Array.from(state.collapsed.expanded)) collapseHost(id);
    render();
    return;
  }
  state.toggled.clear();
  for (const n of state.nodes.values()) if (n.kind === "host" && defaultCollapsed(n, state.nodes.size) !== collapsed) state.toggled.add(n.id);
  render();
  scheduleHash();
}

export function switchView(view) {
  if (view === state.view) return;
  state.view = view;
  state.focus = null;
  state.selected = null;
  state.toggled.clear();
  resync("view");
  scheduleHash();
}

export function initInteraction() {
  svg.on("click", (ev) => select(idFromEvent(ev)));
  d3.select(canvas).on("click", (ev) => select(idFromEvent(ev)));
  svg.on("dblclick", (ev) => toggleCollapse(idFromEvent(ev)));
  d3.select(canvas).on("dblclick", (ev) => toggleCollapse(idFromEvent(ev)));
  const results = d3.select("#map-search-results");
  searchInput.addEventListener("input", async () => showResults(results, await found()));
  searchInput.addEventListener("keydown", async (ev) => {
    if (ev.key === "Enter") {
      const first = await found();
      if (first && first.length) { results.attr("hidden", ""); show(first[0]); }
    } else if (ev.key === "Escape") results.attr("hidden", "");
  });
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
  d3.selectAll("[data-view]").on("click", function () { switchView(this.getAttribute("data-view")); });
  window.addEventListener("resize", () => { if (state.renderer === "canvas") drawCanvas(); });
}
