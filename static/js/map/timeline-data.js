/* Time travel's state and REST (no DOM): the revision shown instead of the live graph, the one it
 * is compared with, what changed between them, and their part of the permalink (rev=, cmp=).
 *
 *   GET {api}history/R/?view=V             the map at R, shaped as the live topology response
 *   GET {api}history/R/?view=V&compare=S   ids added, removed, changed from S to R; ghosts (removed nodes)
 *
 * live.js loads through fetchPast() while `past.revision` is set, and applies no delta meanwhile.
 */
import { request } from "../lib/net.js";
import { config } from "./store.js";

export const past = {
  revision: null, // the revision shown; null: live
  at: null, // when it was made (ISO), from the answer
  compare: null, // the revision it is compared with, or null
  compareAt: null,
  diff: null, // {added, removed, changed}: Sets of node ids, once a compare is loaded
  error: null, // why the last past revision asked for is not shown (e.g. pruned): text
};

// live.js calls hooks.loaded() once a graph is loaded and drawn (timeline.js sets it).
export const hooks = { loaded: () => {} };

export const historyUrl = () => config.api + "history/";

export function diffClass(id) {
  const d = past.diff;
  if (!d) return "";
  if (d.removed.has(id)) return " diff-removed";
  if (d.added.has(id)) return " diff-added";
  if (d.changed.has(id)) return " diff-changed";
  return "";
}

// The same for the canvas renderer: the stroke of a node added, removed or changed (null: as usual).
const DIFF_STROKE = { " diff-added": "#1f8a4c", " diff-removed": "#c0392b", " diff-changed": "#e0a800" };
export const diffStroke = (id) => DIFF_STROKE[diffClass(id)] || null;

// Answers as fetchGraph does ({status, ok, data}); a revision the history no longer keeps (404)
// falls back to the live graph with `past.error` saying why.
export async function fetchPast(view) {
  const base = historyUrl() + encodeURIComponent(past.revision) + "/?view=" + encodeURIComponent(view);
  const answer = await request(base);
  if (answer.status === 404 && answer.data) return fallBack(answer.data.detail, view);
  if (!answer.ok || !answer.data) return answer;
  past.at = answer.data.generated_at;
  past.diff = null;
  if (past.compare === null) return answer;
  const cmp = await request(base + "&compare=" + encodeURIComponent(past.compare));
  if (cmp.status === 404 && cmp.data) {
    past.error = cmp.data.detail;
    past.compare = null;
    return answer;
  }
  if (!cmp.ok || !cmp.data) return cmp;
  past.compareAt = cmp.data.compare_generated_at;
  past.diff = {
    added: new Set(cmp.data.added.nodes),
    removed: new Set(cmp.data.removed.nodes),
    changed: new Set(cmp.data.changed.nodes),
    removedEdges: cmp.data.removed.edges.length,
  };
  // The removed nodes are drawn back as ghosts, with the edges they had (to find their containers).
  const data = { ...answer.data, nodes: answer.data.nodes.concat(cmp.data.ghosts), edges: answer.data.edges.concat(cmp.data.removed.edges) };
  return { ...answer, data };
}

async function fallBack(detail, view) {
  past.error = detail || "this revision is not in the history";
  past.revision = past.compare = past.diff = past.at = null;
  return request(config.api + "?view=" + encodeURIComponent(view));
}

export function pastHashParts() {
  if (past.revision === null) return [];
  return ["rev=" + past.revision].concat(past.compare === null ? [] : ["cmp=" + past.compare]);
}

const revisionOf = (text) => (/^[1-9][0-9]*$/.test(text || "") ? parseInt(text, 10) : null);

// Reads rev= and cmp= of a permalink's hash (URLSearchParams); true when they differ from what is shown.
export function readPastHash(h) {
  const revision = revisionOf(h.get("rev"));
  const compare = revision === null ? null : revisionOf(h.get("cmp"));
  const moved = revision !== past.revision || compare !== past.compare;
  past.revision = revision;
  past.compare = compare;
  if (revision === null) past.diff = null;
  return moved;
}
