/* The timeline under the map: the history's revisions as marks (by time, taller where more
 * changed, from GET {api}history/); a click on a mark, or a drag along the track (or the arrow keys
 * on it: a slider), shows the map at that revision (live updates paused, a banner says so and leads back to live), and
 * "compare with…": the next mark picked is compared with the shown revision (added green, removed
 * red and drawn back as ghosts, changed amber). The revision and the compare go in the permalink.
 * The newest PAGE revisions are listed first; older pages (?before=<the oldest listed>) are loaded
 * when the track is dragged to its left edge, scrolled left (wheel) or stepped left of its first mark.
 *
 * Every string of the history (causes name hosts and users) reaches the page through .text().
 */
import { request } from "../lib/net.js";
import { state } from "./store.js";
import { resync } from "./live.js";
import { scheduleHash } from "./permalink.js";
import { hooks, past, historyUrl, readPastHash } from "./timeline-data.js";

const PAGE = 200; // revisions looked at per page (the API's most); older pages loaded at the left edge
const EDGE_PX = 12; // a drag this near the track's left end loads the older page
const EMPTY_PAGES = 5; // a member's pages may hold none of its revisions: this many looked at per load
const MARK_W = 3;
const TRACK_H = 46;

const ui = {};
let marks = []; // the listing's revisions, oldest first: {revision, at, cause, counts, total}
let picking = false; // "compare with…": the next mark picked is the compared revision
let nextBefore = null; // the cursor of the older page (the API's next_before); null: the oldest is listed
let loadingOlder = null; // the older page's request under way

const total = (c) => c.added.nodes + c.added.edges + c.removed.nodes + c.removed.edges + c.changed.nodes;
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "?");

export function timelineOpen() {
  return !ui.section.hidden;
}

async function loadListing() {
  ui.status.textContent = "loading the history…";
  const answer = await request(historyUrl() + "?limit=" + PAGE);
  if (!answer.ok || !answer.data) {
    ui.status.textContent = "cannot load the history" + (answer.data && answer.data.detail ? ": " + answer.data.detail : "");
    return;
  }
  marks = asMarks(answer.data.revisions);
  nextBefore = answer.data.next_before;
  ui.status.textContent = summary();
  draw();
}

const asMarks = (revisions) => revisions.map((r) => ({ ...r, total: total(r.counts) })).reverse();

function summary() {
  if (!marks.length && nextBefore === null) return "no revision in the history yet";
  const span = marks.length ? ", " + when(marks[0].at) + " – " + when(marks[marks.length - 1].at) : "";
  return marks.length + " revisions" + span + (nextBefore !== null ? " (older: drag or scroll to the left edge)" : "");
}

// The page before the oldest mark, put in front of the marks (a member's empty pages skipped, a few at most).
function loadOlder() {
  if (nextBefore === null || loadingOlder) return loadingOlder;
  ui.status.textContent = "loading older revisions…";
  loadingOlder = (async () => {
    let older = [];
    for (let n = 0; n < EMPTY_PAGES && nextBefore !== null && !older.length; n++) {
      const answer = await request(historyUrl() + "?limit=" + PAGE + "&before=" + encodeURIComponent(nextBefore));
      if (!answer.ok || !answer.data) {
        ui.status.textContent = "cannot load older revisions" + (answer.data && answer.data.detail ? ": " + answer.data.detail : "");
        return;
      }
      older = asMarks(answer.data.revisions);
      nextBefore = answer.data.next_before;
    }
    const known = new Set(marks.map((m) => m.revision));
    marks = older.filter((m) => !known.has(m.revision)).concat(marks);
    ui.status.textContent = summary();
    draw();
  })().finally(() => { loadingOlder = null; });
  return loadingOlder;
}

function xScale(width) {
  const times = marks.map((m) => Date.parse(m.at));
  const span = times.length ? times[times.length - 1] - times[0] : 0;
  const pad = 8;
  if (span < 1000 * marks.length) { // revisions seconds apart (a burst, a test): by order, not time
    const step = (width - 2 * pad - 20) / Math.max(1, marks.length - 1);
    return (m, i) => pad + i * step;
  }
  const scale = d3.scaleTime().domain([times[0], times[times.length - 1]]).range([pad, width - pad - 20]);
  return (m) => scale(Date.parse(m.at));
}

function markTitle(m) {
  const c = m.counts;
  return "revision " + m.revision + " at " + when(m.at) + " — " + m.cause + " · +" + (c.added.nodes + c.added.edges)
    + " −" + (c.removed.nodes + c.removed.edges) + " ~" + c.changed.nodes;
}

let xs = []; // each mark's x as drawn (for a drag: the mark nearest the pointer)

function draw() {
  const width = ui.svg.node().clientWidth || 600;
  const x = xScale(width);
  xs = marks.map((m, i) => x(m, i));
  const height = (m) => Math.min(TRACK_H - 6, 6 + 7 * Math.log2(1 + m.total));
  ui.svg.attr("viewBox", "0 0 " + width + " " + TRACK_H);
  const sel = ui.svg.selectAll("rect.mark").data(marks, (m) => m.revision);
  sel.exit().remove();
  const enter = sel.enter().append("rect").attr("class", "mark").attr("width", MARK_W);
  enter.append("title");
  enter.on("click", (event, m) => { if (event.detail === 0) pick(m.revision); }); // a click without a pointer (keyboard, AT)
  enter.merge(sel)
    .attr("data-revision", (m) => m.revision)
    .attr("x", (m, i) => x(m, i) - MARK_W / 2)
    .attr("y", (m) => TRACK_H - height(m))
    .attr("height", height)
    .classed("shown", (m) => m.revision === past.revision)
    .classed("compared", (m) => m.revision === past.compare)
    .select("title").text(markTitle);
  const liveMark = ui.svg.selectAll("rect.live-end").data([0]);
  liveMark.enter().append("rect").attr("class", "live-end").attr("width", 10).attr("height", TRACK_H - 8).attr("y", 4)
    .on("click", (event) => { if (event.detail === 0) backToLive(); })
    .append("title").text("live");
  ui.svg.select("rect.live-end").attr("x", width - 14).classed("shown", past.revision === null);
  ui.svg.attr("aria-valuemax", marks.length).attr("aria-valuenow", shownIndex())
    .attr("aria-valuetext", past.revision === null ? "live" : "revision " + past.revision);
}

// The slider's position: the shown revision's mark, marks.length for live.
function shownIndex() {
  if (past.revision === null) return marks.length;
  const i = marks.findIndex((m) => m.revision === past.revision);
  return i < 0 ? marks.length : i;
}

function nearest(event) {
  const [px] = d3.pointer(event, ui.svg.node());
  const width = ui.svg.node().clientWidth || 600;
  if (px > width - 18) return marks.length; // the live end
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (Math.abs(xs[i] - px) < Math.abs(xs[best] - px)) best = i;
  return best;
}

function hover(i) {
  ui.svg.selectAll("rect.mark").classed("hover", (m, j) => j === i);
  ui.status.textContent = i < marks.length ? markTitle(marks[i]) : "live";
}

function settle(i) {
  ui.svg.selectAll("rect.mark").classed("hover", false);
  if (i >= marks.length) { if (past.revision !== null) backToLive(); return; }
  pick(marks[i].revision);
}

// Drag along the track: the mark under the pointer is previewed, the one let go on is shown.
function initDrag() {
  const track = ui.svg.node();
  let dragging = null;
  track.addEventListener("pointerdown", (event) => {
    if (!marks.length || event.button !== 0) return;
    dragging = nearest(event);
    track.setPointerCapture(event.pointerId);
    hover(dragging);
  });
  track.addEventListener("pointermove", (event) => {
    if (dragging === null) return;
    hover((dragging = nearest(event)));
    if (d3.pointer(event, track)[0] <= EDGE_PX) loadOlder(); // dragged to the left edge: the older page
  });
  track.addEventListener("wheel", (event) => {
    if (event.deltaX < 0 || (event.shiftKey && event.deltaY < 0)) { // scrolled left
      event.preventDefault();
      loadOlder();
    }
  }, { passive: false });
  track.addEventListener("pointerup", () => {
    if (dragging === null) return;
    const i = dragging;
    dragging = null;
    settle(i);
  });
  track.addEventListener("keydown", (event) => {
    const step = { ArrowLeft: -1, ArrowRight: 1, Home: -Infinity, End: Infinity }[event.key];
    if (step === undefined || !marks.length) return;
    event.preventDefault();
    if (shownIndex() + step < 0 && nextBefore !== null) { // left of the first mark: the older page, then its newest
      loadOlder().then(() => settle(step === -Infinity ? 0 : Math.max(0, shownIndex() - 1)));
      return;
    }
    settle(Math.max(0, Math.min(marks.length, shownIndex() + step)));
  });
}

function pick(revision) {
  if (picking) {
    picking = false;
    ui.compare.classList.remove("active");
    ui.status.textContent = "";
    if (past.revision === null) startPast();
    past.compare = revision === past.revision ? null : revision;
    load();
    return;
  }
  goTo(revision);
}

function startPast() {
  if (past.revision === null) {
    past.revision = state.revision; // comparing the live map: the current revision, replayed, held still
  }
}

export function goTo(revision) {
  past.revision = revision;
  if (past.compare === revision) past.compare = null;
  load();
}

export function compareWith(revision) {
  startPast();
  past.compare = revision === past.revision ? null : revision;
  load();
}

export function backToLive() {
  past.revision = past.compare = past.diff = past.at = null;
  past.error = null;
  picking = false;
  ui.compare.classList.remove("active");
  load();
  if (timelineOpen()) loadListing();
}

function load() {
  past.error = null;
  scheduleHash();
  resync(past.revision === null ? "live" : "revision " + past.revision);
}

// Called by live.js once a graph (past or live) is loaded and drawn.
function loaded() {
  const shown = past.revision !== null;
  ui.page.classList.toggle("viewing-past", shown);
  ui.banner.hidden = !shown && !past.error;
  ui.bannerLive.hidden = !shown;
  if (shown) {
    let text = "viewing revision " + past.revision + " at " + when(past.at);
    if (past.diff) {
      const d = past.diff;
      text += " · compared with revision " + past.compare + " (" + when(past.compareAt) + "): " + d.added.size + " added, "
        + d.removed.size + " removed, " + d.changed.size + " changed";
    }
    ui.bannerText.textContent = text + (past.error ? " · " + past.error : "");
    ui.stop.hidden = past.compare === null;
  } else if (past.error) {
    ui.bannerText.textContent = past.error + " — showing the live map";
    scheduleHash();
  }
  ui.legend.hidden = !past.diff;
  if (timelineOpen()) draw();
}

function toggle(open) {
  ui.section.hidden = !open;
  ui.toggle.classList.toggle("active", open);
  ui.toggle.setAttribute("aria-expanded", String(open));
  if (open) loadListing();
}

export function initTimeline() {
  ui.page = document.getElementById("map-page");
  ui.section = document.getElementById("map-timeline");
  ui.toggle = document.getElementById("timeline-toggle");
  ui.svg = d3.select("#timeline-svg");
  ui.status = document.getElementById("timeline-status");
  ui.compare = document.getElementById("timeline-compare");
  ui.stop = document.getElementById("timeline-stop-compare");
  ui.legend = document.getElementById("timeline-legend");
  ui.banner = document.getElementById("map-past");
  ui.bannerText = document.getElementById("map-past-text");
  ui.bannerLive = document.getElementById("map-past-live");
  hooks.loaded = loaded;
  ui.toggle.addEventListener("click", () => toggle(ui.section.hidden));
  ui.compare.addEventListener("click", () => {
    picking = !picking;
    ui.compare.classList.toggle("active", picking);
    ui.status.textContent = picking ? "pick the revision to compare with" : "";
  });
  ui.stop.addEventListener("click", () => { past.compare = null; past.diff = null; load(); });
  ui.bannerLive.addEventListener("click", backToLive);
  document.getElementById("timeline-live").addEventListener("click", backToLive);
  initDrag();
  window.addEventListener("resize", () => { if (timelineOpen()) draw(); });
  // A permalink pasted into this tab with another revision: show that one.
  window.addEventListener("hashchange", () => {
    if (readPastHash(new URLSearchParams(location.hash.slice(1)))) load();
  });
  if (past.revision !== null) toggle(true); // opened from a permalink that carries a revision
}
