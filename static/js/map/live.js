/* Live updates: the graph from REST (resync), then the websocket's deltas, each applied when its
 * `base` is our revision, buffered while a resync runs, and a resync on any gap. While a past
 * revision is shown (timeline.js) the graph comes from the history and deltas wait for "back to live".
 */
import { liveSocket } from "../lib/net.js";
import { config, state, stats, applyDelta, fetchGraph, loadGraph } from "./store.js";
import { loadPositions } from "./positions.js";
import { fit } from "./stage.js";
import { render } from "./render.js";
import { renderLegend } from "./legend.js";
import { explainPath, pathFollows } from "./path-form.js";
import { applyPendingHash, pending } from "./permalink.js";
import { fetchPast, hooks, past } from "./timeline-data.js";
import { afterLoad, fetchPhysical, filterDelta } from "./collapsed.js";

let live = null;
let resyncAgain = false;

export function setLive(text, cls) {
  const el = document.getElementById("map-live");
  el.textContent = text;
  el.className = "live " + (cls || "");
}

function showView() {
  loadPositions();
  renderLegend();
  d3.selectAll("[data-view]").classed("active", function () { return this.getAttribute("data-view") === state.view; });
}

export async function resync(reason) {
  if (state.loading) { resyncAgain = true; return; }
  state.loading = true;
  state.buffer = [];
  setLive("loading…");
  try {
    const view = state.view;
    if (past.revision !== null) state.collapsed = null; // a past revision is loaded whole
    const now = past.revision === null;
    const { status, ok, data } = await (!now ? fetchPast(view) : view === "physical" ? fetchPhysical() : fetchGraph(view));
    if (view !== "physical") state.collapsed = null;
    if (status === 401 || status === 403) { location.reload(); return; }
    if (!ok) throw new Error("HTTP " + status);
    if (!data) throw new Error("not JSON");
    const viewChanged = !state.model || state.model.view !== state.view;
    loadGraph(data);
    state.loadedView = view;
    if (viewChanged) showView();
    render();
    if (await afterLoad()) render(); // hosts expanded before the reload, fetched again
    if (viewChanged && !pending.hash) fit();
    applyPendingHash();
    for (const msg of state.buffer.splice(0)) onDelta(msg);
    if (pending.path) { pending.path = false; explainPath(true); } else pathFollows();
    if (past.revision !== null) setLive("paused · viewing revision " + state.revision, "past");
    else {
      if (live) live.send({ type: "topology.sync", revision: state.revision });
      setLive("live · revision " + state.revision, "ok");
    }
    hooks.loaded();
  } catch (err) {
    console.warn("map: resync failed (" + reason + ")", err);
    setLive("cannot load the map: retrying", "bad");
    setTimeout(() => resync("retry"), 3000);
  } finally {
    state.loading = false;
    if (resyncAgain) { resyncAgain = false; resync("again"); }
  }
}

function onDelta(msg) {
  if (past.revision !== null) return; // time travel: paused (back to live resyncs)
  if (state.loading) { state.buffer.push(msg); return; }
  if (msg.revision <= state.revision) return;
  if (msg.base !== state.revision) { resync("gap " + msg.base + " != " + state.revision); return; }
  const started = performance.now();
  const touched = applyDelta(filterDelta(msg));
  for (const id of touched) state.fresh.add(id);
  render();
  stats.applied.push({ revision: msg.revision, ms: performance.now() - started, at: Date.now() });
  pathFollows();
  if (stats.applied.length > 500) stats.applied.shift();
  setLive("live · revision " + state.revision, "ok");
}

export function connect() {
  live = liveSocket(config.ws, {
    delay: (attempt) => 500 * 2 ** Math.min(attempt, 6),
    open: () => resync("connect"),
    message: (msg) => {
      stats.wsFrames += 1;
      if (msg.type === "topology.delta") onDelta(msg);
      else if (msg.type === "topology.resync") resync(msg.reason || "server");
    },
    close: (ev) => {
      if (ev.code === 4401) setLive("session ended: log in again", "bad");
      else setLive("disconnected: reconnecting", "bad");
    },
  });
}
