/* The packet path drawn over the map: the hops as numbered badges over the nodes they name
 * (several hops on one node share one badge, a collapsed host gets the numbers of everything
 * inside it) joined by a polyline. The way back (DVR east-west and other asymmetric walks: the
 * reply is routed by the destination host's qrouter, not the sender's) is its own dashed line
 * with its own badges (R1, R2…), drawn a little off the forward one; it can be hidden.
 */
import { state } from "./store.js";
import { isContainer } from "./style.js";
import { gBoxes, gNodes, gPath, scene, svg, fitTransform, zoomTo } from "./stage.js";
import { path } from "./path-state.js";

const RETURN_OFFSET = { glyph: -20, box: 20 };
const BADGE_FILL = { fail: "#c0392b", warn: "#b7791f", unknown: "#6b7483" };
const RETURN_COLOUR = "#2a6fdb";

function portByPrefix() {
  if (path.prefixRevision === state.revision && path.prefixes) return path.prefixes;
  const prefixes = new Map();
  for (const n of state.nodes.values()) if (n.kind === "port") prefixes.set(n.id.slice(5, 16), n.id);
  path.prefixes = prefixes;
  path.prefixRevision = state.revision;
  return prefixes;
}

// A physical hop (iface/bridge/netns) named in the logical view: its port, router or network.
function logicalFor(id) {
  const [kind, , ...rest] = id.split(":");
  const name = rest[rest.length - 1] || "";
  const nsName = kind === "netns" ? name : "";
  let m;
  if (kind === "iface" || kind === "bridge") {
    m = /^(tap|qvo|qvb|qbr|qr-|qg-|fg-|sg-|ns-|ha-)([0-9a-f-]{11})/.exec(name);
    if (m) return portByPrefix().get(m[2]) || null;
    return null;
  }
  if ((m = /^(qrouter|snat)-(.+)$/.exec(nsName))) return "router:" + m[2];
  if ((m = /^(qdhcp|fip|ovnmeta)-(.+)$/.exec(nsName))) return "network:" + m[2];
  return null;
}

function serverOfPort(portId) {
  for (const e of state.edges.values()) if (e.kind === "runs" && e.target === portId) return e.source;
  return null;
}

// For each hop: the id drawn for it here (itself, its logical stand-in, or a collapsed ancestor).
function drawnHops(hops, model) {
  const raw = hops.map((h) => {
    if (!h.node) return null;
    if (state.nodes.has(h.node)) return h.node;
    return state.view === "logical" ? logicalFor(h.node) : null;
  });
  // the lab's VM namespace stands for the VM: in the logical view, the server running the next hop's port
  hops.forEach((h, i) => {
    if (raw[i] || state.view !== "logical" || !/^netns:.*:vm-/.test(h.node || "")) return;
    for (const j of [i + 1, i - 1]) {
      const p = raw[j];
      if (p && p.startsWith("port:")) { raw[i] = serverOfPort(p) || p; break; }
    }
  });
  return raw.map((id) => {
    if (!id || !state.nodes.has(id)) return null;
    const shown = model.standFor(id);
    return model.visibleIds.has(shown) ? shown : null;
  });
}

// Where a hop's badge and the polyline go on a drawn node.
// A box's badge sits on its left edge at the title's height, mostly outside: the title stays readable.
function anchorOf(id, boxes, model, w) {
  const n = state.nodes.get(id);
  if (isContainer(n, model.view)) {
    const b = boxes.get(id);
    return { x: b.x0 - w / 2 + 5, y: b.y0 + 12 };
  }
  const p = state.positions.get(id);
  return { x: p.x, y: p.y };
}

function ranges(numbers, prefix) {
  const out = [];
  const p = prefix || "";
  for (const n of numbers) {
    const last = out[out.length - 1];
    if (last && n === last[1] + 1) last[1] = n;
    else out.push([n, n]);
  }
  return out.map(([a, b]) => (a === b ? p + a : b === a + 1 ? p + a + "," + p + b : p + a + "–" + p + b)).join(",");
}

function hopsOverlay(hops, model, boxes, back) {
  const drawn = drawnHops(hops, model);
  const byNode = new Map();
  const sequence = [];
  drawn.forEach((id, i) => {
    if (!id) return;
    if (!byNode.has(id)) byNode.set(id, { id, numbers: [], status: "ok" });
    const b = byNode.get(id);
    b.numbers.push(i + 1);
    const st = hops[i].status;
    if (st === "fail" || (st === "warn" && b.status !== "fail") || (st === "unknown" && b.status === "ok")) b.status = st;
    if (sequence[sequence.length - 1] !== id) sequence.push(id);
  });
  const badges = Array.from(byNode.values()).map((b) => {
    const text = ranges(b.numbers, back ? "R" : "");
    const w = Math.max(18, text.length * 6.4 + 10);
    const a = anchorOf(b.id, boxes, model, w);
    if (back) a.y += isContainer(state.nodes.get(b.id), model.view) ? RETURN_OFFSET.box : RETURN_OFFSET.glyph;
    return { ...b, x: a.x, y: a.y, text, w };
  });
  // the polyline passes through the badges in hop order
  const at = new Map(badges.map((b) => [b.id, b]));
  const points = sequence.map((id) => [at.get(id).x, at.get(id).y]);
  const firstFail = hops.findIndex((h) => h.status === "fail");
  const failNode = firstFail >= 0 ? drawn.slice(firstFail).find(Boolean) : null;
  const failAt = failNode ? sequence.indexOf(failNode) : -1;
  return { badges, points, failAt, firstFail, drawn, onPath: new Set(byNode.keys()) };
}

export function pathOverlay(model, boxes) {
  const r = path.result;
  if (!r || !r.hops || !r.hops.length) return null;
  const ov = { ...hopsOverlay(r.hops, model, boxes, false), verdict: r.verdict, back: null };
  if (r.return_hops && r.return_hops.length) {
    ov.back = hopsOverlay(r.return_hops, model, boxes, true);
    ov.back.shown = path.showReturn;
  }
  return ov;
}

// The return overlay when it is drawn, else null.
export function shownBack(ov) {
  return ov && ov.back && ov.back.shown ? ov.back : null;
}

function lineSegments(ov, cls, verdictCls) {
  if (!ov || ov.points.length < 2) return [];
  if (ov.failAt < 0) return [{ key: cls + "-all", cls: cls + " " + verdictCls, pts: ov.points }];
  return [
    { key: cls + "-before", cls, pts: ov.points.slice(0, ov.failAt + 1) },
    { key: cls + "-after", cls: cls + " after-fail", pts: ov.points.slice(ov.failAt) },
  ].filter((s) => s.pts.length > 1);
}

export function drawPathSvg() {
  const ov = scene && scene.path;
  const back = shownBack(ov);
  svg.classed("path-active", !!ov);
  const onPath = (n) => !!(ov && ov.onPath.has(n.id));
  const onReturn = (n) => !!(back && back.onPath.has(n.id));
  gBoxes.selectAll("g.box").classed("on-path", onPath).classed("on-return", onReturn);
  gNodes.selectAll("g.glyph").classed("on-path", onPath).classed("on-return", onReturn);
  const line = d3.line();
  // the way back under the way there
  const segments = lineSegments(back, "return-line", "")
    .concat(lineSegments(ov, "path-line", "verdict-" + (ov ? ov.verdict : "ok")));
  gPath.selectAll("path.path-line, path.return-line").data(segments, (s) => s.key)
    .join("path").attr("class", (s) => s.cls.trim()).attr("d", (s) => line(s.pts)).order();
  const badgeJoin = (cls, data) => gPath.selectAll("g." + cls).data(data, (b) => b.id)
    .join((enter) => {
      const g = enter.append("g");
      g.append("rect").attr("rx", 9).attr("height", 18).attr("y", -9);
      g.append("text").attr("text-anchor", "middle").attr("y", 4);
      return g;
    })
    .attr("class", (b) => cls + " status-" + b.status).attr("data-id", (b) => b.id)
    .attr("transform", (b) => "translate(" + b.x + "," + b.y + ")")
    .call((g) => g.select("rect").attr("x", (b) => -b.w / 2).attr("width", (b) => b.w))
    .call((g) => g.select("text").text((b) => b.text));
  badgeJoin("return-badge", back ? back.badges : []);
  badgeJoin("path-badge", ov ? ov.badges : []);
  gPath.selectAll("g.return-badge").raise();
  gPath.selectAll("g.path-badge").raise();
  gPath.raise();
}

function canvasBadges(ctx, s, list, fill, textColour) {
  for (const b of list) {
    const w = b.w * s, h = 18 * s;
    ctx.fillStyle = BADGE_FILL[b.status] || fill;
    ctx.fillRect(b.x - w / 2, b.y - h / 2, w, h);
    if (!BADGE_FILL[b.status] && textColour !== "#fff") {
      ctx.strokeStyle = RETURN_COLOUR;
      ctx.lineWidth = 1.5 * s;
      ctx.strokeRect(b.x - w / 2, b.y - h / 2, w, h);
    }
    ctx.fillStyle = BADGE_FILL[b.status] ? "#fff" : textColour;
    ctx.font = "bold " + Math.round(11 * s) + "px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.fillText(b.text, b.x, b.y + 4 * s);
    ctx.textAlign = "start";
  }
}

export function drawPathCanvas(ctx, k) {
  const ov = scene && scene.path;
  if (!ov) return;
  const back = shownBack(ov);
  ctx.globalAlpha = 0.85;
  ctx.lineJoin = "round";
  const stroke = (pts, color, dash, width) => {
    if (pts.length < 2) return;
    ctx.lineWidth = width / Math.max(k, 0.2);
    ctx.strokeStyle = color;
    ctx.setLineDash(dash.map((d) => d / Math.max(k, 0.2)));
    ctx.beginPath();
    pts.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    ctx.stroke();
  };
  if (back) {
    if (back.failAt >= 0) {
      stroke(back.points.slice(0, back.failAt + 1), RETURN_COLOUR, [10, 6], 4);
      stroke(back.points.slice(back.failAt), "#c0392b", [4, 6], 4);
    } else stroke(back.points, RETURN_COLOUR, [10, 6], 4);
  }
  if (ov.failAt >= 0) {
    stroke(ov.points.slice(0, ov.failAt + 1), "#e67e22", [], 5);
    stroke(ov.points.slice(ov.failAt), "#c0392b", [8, 6], 5);
  } else stroke(ov.points, ov.verdict === "ok" ? "#1f8a4c" : "#e67e22", [], 5);
  ctx.setLineDash([]);
  ctx.globalAlpha = 1;
  const s = 1 / Math.max(k, 0.35);
  if (back) canvasBadges(ctx, s, back.badges, "#fff", RETURN_COLOUR);
  canvasBadges(ctx, s, ov.badges, "#1d2430", "#fff");
}

// Zoom to the hops drawn (not to the whole map), the way back included, clear of the legend.
export function fitPath() {
  const ov = scene && scene.path;
  if (!ov || !ov.badges.length) return;
  const all = ov.badges.concat(shownBack(ov) ? ov.back.badges : []);
  const xs = all.map((b) => b.x), ys = all.map((b) => b.y);
  const x0 = d3.min(xs) - 80, x1 = d3.max(xs) + 80, y0 = d3.min(ys) - 60, y1 = d3.max(ys) + 60;
  zoomTo(fitTransform(x0, y0, x1, y1, 0.95, 0.05, 1.4));
}
