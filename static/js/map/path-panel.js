/* The path's narrative beside the map: the verdict, the scenario (its label from the served
 * vocabulary), the problems, the seed's walk hop by hop grouped by host, and the return path.
 * Every string from the API goes through .text().
 */
import { config, state, vocabulary } from "./store.js";
import { scene } from "./stage.js";
import { reveal } from "./interaction.js";
import { activeCheck, setShowReturn, verifyPath } from "./path-form.js";
import { labelOfEndpoint, path } from "./path-state.js";

const VERDICT_TEXT = { ok: "✓ the path works", broken: "✗ broken", unknown: "? unknown (missing evidence)" };
const scenarioLabel = (name) => (vocabulary.scenarios[name] && vocabulary.scenarios[name].label) || name;
// Walks whose reply crosses the same nodes in reverse: said in one line when the API gives no return_hops.
const isSymmetric = (name) => !!(vocabulary.scenarios[name] && vocabulary.scenarios[name].symmetric);

// "cirros-01 (10.0.0.158)": the name picked in the form (or the node's), then the address.
function describeEnd(end, picked) {
  if (!end) return picked.label || picked.value;
  if (end.kind === "outside") return (end.ip || picked.value) + " (outside)";
  let name = picked.label && picked.label !== picked.value ? picked.label : labelOfEndpoint(end.node);
  if (name === end.node) return end.ip || picked.value;
  name = name.replace(/ \((VM|port[^)]*|floating IP|IP address)\)$/, "");
  return name + (end.ip && name !== end.ip ? " (" + end.ip + ")" : "");
}

function problems(box, r) {
  if (!r.problems || !r.problems.length) return;
  box.append("h3").text("Problems");
  const ul = box.append("ul").attr("class", "path-problems");
  for (const p of r.problems) {
    const li = ul.append("li").attr("class", "severity-" + p.severity);
    li.append("code").text(p.code);
    li.append("span").text(" " + p.message);
    if (p.port && config.securityGroupsPage) { // a security-group problem: the port's groups, where the fix is
      const query = new URLSearchParams({ port: p.port.replace(/^port:/, "") });
      li.append("a").attr("class", "fix").attr("href", config.securityGroupsPage + "?" + query)
        .text("fix in Security groups");
    }
    if (p.node && state.nodes.has(p.node)) {
      li.append("button").attr("type", "button").attr("class", "small").text("show").on("click", () => reveal(p.node));
    }
  }
}

export function renderPathPanel() {
  const box = d3.select("#path-result");
  box.selectAll("*").remove();
  if (path.error) {
    box.append("p").attr("class", "path-error").attr("role", "alert").text(path.error);
    return;
  }
  const r = path.result;
  if (!r) return;
  const back = r.return_hops || [];
  const backBroken = r.return_verdict === "broken" || back.some((h) => h.status === "fail");
  // The verdict counts the reply (a ping needs it); when only the reply fails, say the way there works.
  const thereBroken = r.hops.some((h) => h.status === "fail")
    || (r.problems || []).some((p) => p.severity === "fail" && p.direction !== "return");
  const head = box.append("div").attr("class", "path-verdict verdict-" + r.verdict);
  head.append("strong").attr("class", "verdict")
    .text(backBroken && !thereBroken ? "✓ the way there works" : VERDICT_TEXT[r.verdict] || r.verdict);
  head.append("span").attr("class", "scenario").text(" · " + scenarioLabel(r.scenario));
  if (backBroken) {
    head.append("div").attr("class", "return-verdict").text("✗ the reply is lost on the way back (see Return path)");
  }
  if (r.past) { // the timeline shows a past revision: the path as it was then, said so
    const note = head.append("div").attr("class", "path-past");
    note.append("strong").text("as at revision " + r.past.revision + " (" + new Date(r.past.at).toLocaleString() + ")");
    note.append("span").text(": " + r.past.note + "; live is revision " + r.past.live_revision + ".");
  }
  if (r.since && r.since.headline) {
    head.append("div").attr("class", "path-since").text(r.since.headline); // text only: it holds names
  }
  box.append("p").attr("class", "path-summary")
    .text(r.probe + " from " + describeEnd(r.src, path.src) + " to " + describeEnd(r.dst, path.dst) +
      ": " + r.hops.length + " hops" + (back.length ? ", " + back.length + " back" : "") + ", revision " + r.revision + ".");
  if (!r.past) verifyBar(box, r); // the tracers answer for today's datapath only
  problems(box, r);
  const ov = scene && scene.path;
  narrative(box, r.hops, ov ? ov.drawn : [], "path-hops", "");
  returnSection(box, r, ov && ov.back);
}

function returnSection(box, r, back) {
  const hops = r.return_hops || [];
  const section = box.append("section").attr("class", "path-return").attr("aria-label", "Return path");
  const head = section.append("h3");
  head.append("span").attr("class", "return-key").attr("aria-hidden", "true");
  head.append("span").text("Return path");
  if (!hops.length) {
    section.classed("retraces", true).append("p").attr("class", "muted small return-note").text(
      isSymmetric(r.scenario) ? "The reply retraces these hops in reverse." : "The explainer does not walk the reply for this scenario.");
    return;
  }
  const failed = hops.findIndex((h) => h.status === "fail");
  const note = section.append("p").attr("class", "return-note small" + (failed >= 0 ? " broken" : ""));
  note.append("span").attr("class", "return-count").text(hops.length + " hops");
  note.append("span").text(failed >= 0
    ? ": the reply is lost at R" + (failed + 1) + "."
    : ": the reply does not retrace the way there (" + scenarioLabel(r.scenario) + ").");
  const toggle = section.append("label").attr("class", "return-toggle small");
  toggle.append("input").attr("type", "checkbox").attr("id", "path-return-toggle").property("checked", path.showReturn)
    .on("change", function () { setShowReturn(this.checked); });
  toggle.append("span").text(" draw it on the map (dashed, R1, R2…)");
  narrative(section, hops, back ? back.drawn : [], "path-hops return-hops", "R");
}

const VERIFY_MARK = { agree: "✓", disagree: "✗", not_checked: "–" };

// The button that asks the nodes' tracers (verify=1), or the count of their answers once asked.
function verifyBar(box, r) {
  const bar = box.append("div").attr("class", "path-verify-bar");
  const v = r.verify;
  if (v) {
    bar.append("span").attr("class", "verify-summary" + (v.disagree ? " disagree" : ""))
      .text("Checked with the nodes' tracers: " + v.agree + " agree, " + v.disagree + " disagree, " +
        v.not_checked + " not checked.");
  }
  bar.append("button").attr("type", "button").attr("class", "small").attr("id", "path-verify")
    .attr("title", "Run ofproto/trace and ip route get on the hops' nodes, through their agents")
    .text(v ? "Verify again" : "Verify with the nodes").on("click", verifyPath);
  if (config.activeApi && r.src && r.src.kind === "port") { // admins: one real packet, and what it moved
    bar.append("button").attr("type", "button").attr("class", "small").attr("id", "path-active")
      .attr("title", "The source host's agent sends one ICMP echo; the counters each hop cites are read before and after")
      .text(r.active ? "Send again" : "Send a real ping").on("click", activeCheck);
  }
  const a = r.active;
  if (a) {
    bar.append("div").attr("class", "active-summary" + (a.answered ? "" : " unanswered"))
      .text((a.answered ? "A real ping to " + a.to + " was answered" : "A real ping to " + a.to + " got no reply") +
        ": counters moved on " + a.hops_moved + " hop(s), stood still on " + a.hops_still + "; " + a.from.said + ".");
  }
}

// What one hop's cited counters did during the active check's ping.
function activeLine(li, a) {
  if (!a) return;
  const div = li.append("div").attr("class", "hop-active" + (a.moved.length ? " moved" : " still"));
  const words = [];
  if (a.moved.length) words.push("moved: " + a.moved.map((m) => "+" + m.by + " " + m.counter).join("; "));
  if (a.still.length) words.push("stood still: " + a.still.map((m) => m.counter).join("; "));
  if (a.not_read.length) words.push("not read: " + a.not_read.join("; "));
  div.text((a.moved.length ? "▲ " : "▪ ") + words.join(" · "));
}

// One hop's tracer answer beside the model's (hops the tracers do not apply to say nothing).
function verifyLine(li, v) {
  if (!v || (v.state === "not_checked" && !v.tracer)) return;
  const div = li.append("div").attr("class", "hop-verify verify-" + v.state).attr("data-verify", v.state);
  const head = (VERIFY_MARK[v.state] || "") + " " + (v.tracer || "tracer");
  if (v.state === "not_checked") {
    div.text(head + ": not checked (" + (v.reason || "no reason given") + ")");
    return;
  }
  // A hop hidden from a project member keeps only its state: no answer, no model.
  div.append("span").text(head + (v.state === "agree" ? " agrees" : " disagrees") + (v.answer ? ": " : ""));
  if (v.state === "agree" && v.answer) {
    div.append("span").text(v.answer);
  } else if (v.answer) {
    div.append("span").text("the explainer says the packet " + v.model + "; the tracer says it " + v.answer);
  }
  if (v.packet) {
    const det = div.append("details").attr("class", "verify-packet");
    det.append("summary").text("the packet it traced" + (v.host ? " on " + v.host : ""));
    det.append("pre").text(Object.entries(v.packet).map(([k, val]) => k + "=" + val).join(",") +
      (v.notes && v.notes.length ? "\n" + v.notes.join("\n") : "") +
      (v.detail && v.detail.datapath_actions ? "\nDatapath actions: " + v.detail.datapath_actions : ""));
  }
  if (v.detail && v.detail.openflow) ovnFlows(div, v.detail.openflow);
}

// An ovn-trace's logical flows, found by cookie on the chassis's br-int: how many OpenFlow flows, their packets.
function ovnFlows(div, of) {
  const stages = of.stages || [];
  const det = div.append("details").attr("class", "verify-openflow");
  det.append("summary").text("logical flows met (" + stages.length + "), on " + of.host + "'s " + of.bridge);
  det.append("pre").text(stages.map((s) => s.direction + " " + s.stage + " (table " + s.table + ", " + s.uuid +
    "): " + (s.openflow_flows ? s.openflow_flows + " OpenFlow flows · n_packets " + s.n_packets : "no OpenFlow flow here"))
    .join("\n"));
}

function flows(li, hop) {
  const det = li.append("details").attr("class", "hop-flows");
  const counts = hop.flows.map((f) => (/n_packets=(\d+)/.exec(f) || [])[1]).filter((c) => c !== undefined);
  det.append("summary").text("OpenFlow rules (" + hop.flows.length + ")" + (counts.length ? " · n_packets " + counts.join(", ") : ""));
  const pre = det.append("pre");
  for (const flow of hop.flows) {
    const row = pre.append("span").attr("class", "flow");
    // n_packets in bold: built from text nodes, never from HTML
    for (const part of flow.split(/(n_packets=\d+)/)) {
      if (/^n_packets=\d+$/.test(part)) row.append("b").text(part);
      else row.append("span").text(part);
    }
    pre.append("span").text("\n");
  }
}

function narrative(parent, hops, drawn, cls, prefix) {
  const ol = parent.append("ol").attr("class", cls);
  let group = null, lastHost;
  hops.forEach((hop, i) => {
    const host = hop.host || "";
    if (!group || host !== lastHost) {
      lastHost = host;
      const gli = ol.append("li").attr("class", "host-group");
      gli.append("div").attr("class", "host-name").text(host ? "on " + host : hop.node && hop.node.startsWith("network:") ? "outside" : "elsewhere");
      group = gli.append("ol").attr("class", "hops-of-host");
    }
    const li = group.append("li").attr("class", "hop status-" + hop.status).attr("data-hop", prefix + (i + 1))
      .attr("data-node", hop.node || "");
    const line = li.append("div").attr("class", "hop-line");
    line.append("span").attr("class", "hop-no").attr("title", hop.status).text(prefix + (i + 1));
    line.append("span").attr("class", "hop-what").text(hop.what);
    if (!hop.node) line.append("span").attr("class", "hop-unnamed muted").text(" (an infrastructure step: not shown on your map)");
    const target = drawn[i];
    if (target) {
      line.classed("clickable", true).attr("title", "show on the map").on("click", () => reveal(target));
    }
    if (hop.evidence) {
      const text = hop.evidence.startsWith("iptables: ") ? hop.evidence.replace(/ \| /g, "\n") : hop.evidence;
      li.append("pre").attr("class", "hop-evidence" + (hop.status === "fail" ? " reason" : "")).text(text);
    }
    if (hop.flows && hop.flows.length) flows(li, hop);
    verifyLine(li, hop.verify);
    activeLine(li, hop.active);
  });
}
