/* The permalink: the view, zoom, selection, focus, collapsed hosts, the open path and the revision
 * shown (rev=, cmp=: timeline-data.js) in the URL hash, written (debounced) as they change, read at start and when a pasted link changes it.
 */
import { config, state } from "./store.js";
import { zoomTo } from "./stage.js";
import { render } from "./render.js";
import { hopsInput, select, switchView } from "./interaction.js";
import { explainPath, setProbe, setShowReturn } from "./path-form.js";
import { path, setEndpoint } from "./path-state.js";
import { setLive } from "./live.js";
import { pastHashParts, readPastHash } from "./timeline-data.js";

// What the hash asked for that can only be done once the graph is loaded (live.js applies it).
export const pending = { hash: null, path: false };

let hashTimer = null;
// The hash this page last read or wrote: another one is a navigation (back, a pasted link) whose
// hashchange has not run yet, which a write due from before must not overwrite.
let known = location.hash;
export function scheduleHash() {
  clearTimeout(hashTimer);
  hashTimer = setTimeout(writeHash, 250);
}

function permalink() {
  const t = state.transform;
  const parts = ["view=" + state.view, "t=" + [t.k.toFixed(3), t.x.toFixed(0), t.y.toFixed(0)].join(",")];
  if (state.selected) parts.push("sel=" + encodeURIComponent(state.selected));
  if (state.focus) parts.push("focus=" + encodeURIComponent(state.focus), "hops=" + state.hops);
  if (state.toggled.size && state.toggled.size <= 50) parts.push("toggle=" + Array.from(state.toggled).map(encodeURIComponent).join(","));
  if (path.src.value && path.dst.value) {
    parts.push("src=" + encodeURIComponent(path.src.value), "dst=" + encodeURIComponent(path.dst.value));
    if (path.probe !== "icmp") parts.push("probe=" + encodeURIComponent(path.probe));
    if (!path.showReturn) parts.push("back=0");
  }
  parts.push(...pastHashParts());
  return location.pathname + "#" + parts.join("&");
}

function writeHash() {
  if (location.hash !== known) return;
  history.replaceState(null, "", permalink());
  known = location.hash;
}

// Reads the hash into the state; what needs the graph goes to `pending`.
export function readHash() {
  known = location.hash;
  const h = new URLSearchParams(location.hash.slice(1));
  readPastHash(h);
  if (h.get("view") === "logical" || h.get("view") === "physical") state.view = h.get("view");
  if (h.get("hops")) state.hops = Math.max(1, Math.min(6, parseInt(h.get("hops"), 10) || 2));
  hopsInput.value = state.hops;
  if (h.get("toggle")) for (const id of h.get("toggle").split(",")) state.toggled.add(id);
  if (h.get("src") && h.get("dst")) {
    setProbe(h.get("probe") || "icmp");
    setEndpoint("src", h.get("src"));
    setEndpoint("dst", h.get("dst"));
    path.showReturn = h.get("back") !== "0";
    pending.path = true;
    path.hashTransform = !!h.get("t");
  }
  pending.hash = hashTargets(h);
}

// The focus, selection and zoom a hash asks for (null: none), applied once the graph holds them.
function hashTargets(h) {
  const out = {};
  if (h.get("focus")) out.focus = h.get("focus");
  if (h.get("sel")) out.selected = h.get("sel");
  const t = (h.get("t") || "").split(",").map(Number);
  if (t.length === 3 && t.every(Number.isFinite)) out.transform = d3.zoomIdentity.translate(t[1], t[2]).scale(t[0]);
  return out.focus || out.selected || out.transform ? out : null;
}

// A hash changed in place (a link pasted, the back button): the view (none: the page's first view),
// then what it focuses and selects.
function followView(h) {
  const view = h.get("view") || config.view;
  pending.hash = hashTargets(h);
  if ((view === "logical" || view === "physical") && view !== state.view) switchView(view); // live.js applies them once drawn
  else applyPendingHash();
}

function followPath(h) {
  const src = h.get("src"), dst = h.get("dst"), probe = h.get("probe") || "icmp";
  if (src && dst && (h.get("back") !== "0") !== path.showReturn) setShowReturn(h.get("back") !== "0");
  if (!src || !dst || (src === path.src.value && dst === path.dst.value && probe === path.probe)) return;
  setProbe(probe);
  setEndpoint("src", src);
  setEndpoint("dst", dst);
  explainPath(true);
}

export function applyPendingHash() {
  if (!pending.hash) return;
  const h = pending.hash;
  pending.hash = null;
  if (h.transform) zoomTo(h.transform);
  if (h.focus && state.nodes.has(h.focus)) { state.focus = h.focus; state.selected = h.focus; render(); }
  if (h.selected && state.nodes.has(h.selected)) select(h.selected);
}

export function initPermalink() {
  // A permalink pasted into this tab: only the hash changes, the page stays; the map follows it.
  window.addEventListener("hashchange", () => {
    known = location.hash;
    const h = new URLSearchParams(location.hash.slice(1));
    followView(h);
    followPath(h);
  });
  document.getElementById("permalink").addEventListener("click", () => {
    writeHash();
    const url = location.href;
    if (navigator.clipboard) navigator.clipboard.writeText(url).catch(() => {});
    setLive("link copied: " + url.slice(0, 60) + (url.length > 60 ? "…" : ""));
  });
}
