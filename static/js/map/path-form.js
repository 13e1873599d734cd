/* The packet path form: source and destination picked by typing (VMs, ports, floating IPs are
 * offered) or from a node's details panel, the probe, and the request to the path API, asked
 * again whenever the graph's revision moves, so that the path follows live updates.
 */
import { config, state, stats } from "./store.js";
import { request } from "../lib/net.js";
import { page, scene } from "./stage.js";
import { render } from "./render.js";
import { fitPath } from "./path-overlay.js";
import { renderPathPanel } from "./path-panel.js";
import { scheduleHash } from "./permalink.js";
import { PATH_API, loadLogical, looksLikeIp, path, searchEndpoints, setEndpoint } from "./path-state.js";
import { past } from "./timeline-data.js";

const probeSelect = document.getElementById("path-probe");
const portInput = document.getElementById("path-port");

function endpointPicker(which) {
  const input = document.getElementById("path-" + which);
  const list = d3.select("#path-" + which + "-results");
  const show = async () => {
    path[which] = { value: "", label: input.value };
    await loadLogical();
    if (input.value !== path[which].label) return; // typed on meanwhile
    const found = searchEndpoints(input.value);
    list.attr("hidden", input.value.trim() ? null : "");
    const li = list.selectAll("li").data(found.length ? found : [null], (c) => (c ? c.value : "none"));
    li.exit().remove();
    const enter = li.enter().append("li");
    enter.filter((c) => c).append("span").attr("class", "kind");
    enter.filter((c) => c).append("span").attr("class", "name");
    enter.filter((c) => !c).attr("class", "muted").text("no match: an IP address or a node id also works");
    const all = enter.merge(li).order();
    all.filter((c) => c).attr("data-value", (c) => c.value);
    all.filter((c) => c).select("span.kind").text((c) => c.kind);
    all.filter((c) => c).select("span.name").text((c) => c.label);
    all.on("mousedown", (ev) => ev.preventDefault()).on("click", (ev, c) => {
      if (!c) return;
      list.attr("hidden", "");
      setEndpoint(which, c.value, c.label);
      useOrAskOther(which);
    });
  };
  input.addEventListener("input", show);
  input.addEventListener("focus", () => { loadLogical(); });
  input.addEventListener("blur", () => setTimeout(() => list.attr("hidden", ""), 150));
  input.addEventListener("keydown", (ev) => { if (ev.key === "Escape") list.attr("hidden", ""); });
}

// Both ends known: explain; else the other field gets the focus.
export function useOrAskOther(which) {
  if (path.src.value && path.dst.value) explainPath(true);
  else document.getElementById(which === "src" ? "path-dst" : "path-src").focus();
}

// What the form's field means: the picked endpoint, else a unique name, else the text (an IP or an id).
function fieldValue(which) {
  if (path[which].value) return path[which].value;
  const text = document.getElementById("path-" + which).value.trim();
  if (!text) return "";
  const found = searchEndpoints(text).filter((c) => c.kind !== "IP");
  const exact = found.filter((c) => c.label.toLowerCase().startsWith(text.toLowerCase() + " (") || c.value === text);
  if (!looksLikeIp(text) && exact.length === 1) return exact[0].value;
  return text;
}

function probeValue() {
  const v = probeSelect.value;
  if (v === "tcp" || v === "udp") return v + ":" + (parseInt(portInput.value, 10) || 80);
  return v;
}

export function setProbe(text) {
  const m = /^(tcp|udp):(\d+)$/.exec(text || "");
  if (m) { probeSelect.value = m[1]; portInput.value = m[2]; portInput.hidden = false; }
  else { probeSelect.value = text === "ssh" ? "ssh" : "icmp"; portInput.hidden = true; }
  path.probe = probeValue();
}

export function clearPath() {
  clearTimeout(path.timer);
  path.result = null;
  path.error = null;
  path.src = { value: "", label: "" };
  path.dst = { value: "", label: "" };
  document.getElementById("path-src").value = "";
  document.getElementById("path-dst").value = "";
  setProbe("icmp");
  page.classList.remove("path-open");
  renderPathPanel();
  render();
  scheduleHash();
}

function showPathError(message) {
  path.result = null;
  path.error = message;
  page.classList.add("path-open");
  renderPathPanel();
  if (scene) render();
}

async function showAnswer(body) {
  path.error = null;
  path.result = body;
  stats.pathRevision = body.revision;
  if (path.src.label === path.src.value || path.dst.label === path.dst.value) {
    await loadLogical();
    for (const which of ["src", "dst"]) if (path[which].label === path[which].value) setEndpoint(which, path[which].value);
  }
  render();
  renderPathPanel();
  if (path.fitNext) { path.fitNext = false; if (!path.hashTransform) fitPath(); }
  path.hashTransform = false;
}

// Ask the API (again). A newer request while one is in flight runs right after it.
export async function explainPath(userAsked) {
  if (!path.src.value || !path.dst.value) return;
  path.probe = probeValue();
  if (userAsked) path.fitNext = true;
  if (path.loading) { path.again = true; return; }
  path.loading = true;
  path.requests += 1;
  stats.pathRequests = path.requests;
  page.classList.add("path-open");
  d3.select("#path-result").classed("loading", true);
  const params = { src: path.src.value, dst: path.dst.value, probe: path.probe };
  const verifying = path.verifyNext && past.revision === null;
  path.verifyNext = false; // a live update re-asks without the tracers (they run only when asked)
  if (verifying) params.verify = "1";
  if (past.revision !== null) params.at = String(past.revision); // the timeline's revision: the path then
  else params.since = "1"; // when the verdict last changed and what changed then (the panel's "since" line)
  const url = PATH_API + "?" + new URLSearchParams(params);
  try {
    const { status, ok, data: body } = await request(url);
    if (verifying && status === 403 && body && body.detail) { showPathError(body.detail); return; }
    if (status === 401 || status === 403) { showPathError("Your session ended: log in again."); return; }
    if (status === 404) {
      showPathError("Not found: " + ((body && body.detail) || "no such endpoint") +
        ". You can trace your own project's VMs, ports and floating IPs, and outside addresses.");
    } else if (!ok) {
      showPathError((body && body.detail) || "The path could not be explained (HTTP " + status + ").");
    } else {
      await showAnswer(body);
    }
    scheduleHash();
  } catch (err) {
    showPathError("The path could not be asked for: " + err.message);
  } finally {
    path.loading = false;
    d3.select("#path-result").classed("loading", false);
    if (path.again) { path.again = false; explainPath(false); }
  }
}

// "Send a real ping" (admins): the source host's agent sends one ICMP echo; each hop's cited counters,
// read before and after, say whether it moved (POST /api/v1/path/active/).
export async function activeCheck() {
  if (!path.src.value || !path.dst.value || !config.activeApi) return;
  d3.select("#path-result").classed("loading", true);
  try {
    const { ok, status, data: body } = await request(config.activeApi, "POST", { src: path.src.value, dst: path.dst.value });
    if (ok) await showAnswer(body);
    else showPathError((body && body.detail) || "The ping could not be sent (HTTP " + status + ").");
  } catch (err) {
    showPathError("The ping could not be asked for: " + err.message);
  } finally {
    d3.select("#path-result").classed("loading", false);
  }
}

// "Verify with the nodes": the same question, with each hop checked by its node's own tracer.
export function verifyPath() {
  if (!path.src.value || !path.dst.value) return;
  path.verifyNext = true;
  explainPath(false);
}

// The graph moved on (a live update, or the timeline to a past revision and back): the path is asked
// again (debounced) so it follows the revision shown.
export function pathFollows() {
  if (!path.src.value || !path.dst.value || (!path.result && !path.error)) return;
  const asPast = past.revision !== null;
  if (path.result && path.result.revision === state.revision && !!path.result.past === asPast) return;
  clearTimeout(path.timer);
  path.timer = setTimeout(() => explainPath(false), 150);
}

export function setShowReturn(on) {
  path.showReturn = !!on;
  const box = document.getElementById("path-return-toggle");
  if (box) box.checked = path.showReturn;
  if (scene) render();
  scheduleHash();
}

export function initPathForm() {
  endpointPicker("src");
  endpointPicker("dst");
  probeSelect.addEventListener("change", () => {
    portInput.hidden = !(probeSelect.value === "tcp" || probeSelect.value === "udp");
    if (!portInput.hidden) portInput.focus();
  });
  document.getElementById("path-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    await loadLogical();
    const src = fieldValue("src"), dst = fieldValue("dst");
    if (!src || !dst) {
      showPathError("Choose a source and a destination: a VM, a port, a floating IP or any IP address.");
      return;
    }
    path.src = { value: src, label: document.getElementById("path-src").value || src };
    path.dst = { value: dst, label: document.getElementById("path-dst").value || dst };
    explainPath(true);
  });
  document.getElementById("path-clear").addEventListener("click", clearPath);
  document.getElementById("path-swap").addEventListener("click", () => {
    const s = path.src, d = path.dst;
    setEndpoint("src", d.value, d.label);
    setEndpoint("dst", s.value, s.label);
    if (path.src.value && path.dst.value && (path.result || path.error)) explainPath(true);
  });
}
