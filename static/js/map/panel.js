/* The details panel of the selected node: its fields, agents and warnings (all as text), and its
 * actions: focus, set as the path's source or destination, collapse or expand.
 */
import { state } from "./store.js";
import { isCollapsed, isCollapsible } from "./model.js";
import { toggleCollapse, toggleFocus } from "./interaction.js";
import { useOrAskOther } from "./path-form.js";
import { endpointLabel, endpointOf, setEndpoint } from "./path-state.js";
import { ovnRows } from "./panel-ovn.js";

const PANEL_FIELDS = [
  ["describe", "what"], ["role", "role"], ["type", "type"], ["addresses", "addresses"], ["fixed_ips", "fixed IPs"],
  ["mac", "MAC"], ["mac_address", "MAC"], ["tag", "VLAN tag"], ["ovs_type", "OVS type"], ["ovs_bridge", "on bridge"],
  ["options", "options"], ["remote_host", "tunnel to"], ["network_type", "network type"],
  ["segmentation_id", "segmentation id / VNI"], ["physical_network", "physical network"], ["cidr", "CIDR"],
  ["gateway_ip", "gateway"], ["floating_ip_address", "floating IP"], ["fixed_ip_address", "fixed IP"],
  ["device_owner", "device owner"], ["binding_host_id", "bound to host"], ["vif_type", "VIF type"],
  ["external", "external"], ["shared", "shared"], ["mtu", "MTU"], ["distributed", "distributed (DVR)"], ["ha", "HA"],
  ["gateway_network_id", "gateway network"], ["tunnel_ip", "tunnel IP"], ["namespace", "namespace"],
  ["routes", "routes"], ["flow_count", "flows"], ["security_groups", "security groups"], ["port_id", "port"],
  ["radvd", "radvd (IPv6 router advertisements)"],
];
// Shown one row per address family: "addresses (IPv4)", "addresses (IPv6)" (dual stack: both).
const BY_FAMILY = new Set(["addresses", "fixed_ips"]);

function byFamily(values) {
  const isV6 = (v) => String(v && typeof v === "object" ? v.ip_address : v).includes(":");
  return [["IPv4", values.filter((v) => !isV6(v))], ["IPv6", values.filter(isV6)]].filter(([, list]) => list.length);
}

function fmt(value) {
  if (value === true) return "yes";
  if (value === false) return "no";
  if (Array.isArray(value)) {
    return value.map((v) => (v && typeof v === "object" ? (v.ip_address || v.dst || JSON.stringify(v)) : String(v))).join(", ");
  }
  if (value && typeof value === "object") return Object.entries(value).map(([k, v]) => k + "=" + v).join(", ");
  return String(value);
}

function fields(body, n) {
  const dl = body.append("dl");
  const row = (k, v) => { dl.append("dt").text(k); dl.append("dd").text(v); };
  row("id", n.id);
  if (n.host) row("host", n.host);
  if (n.project_id) row("project", n.project_id);
  const a = n.attrs || {};
  for (const [key, name] of PANEL_FIELDS) {
    const v = a[key];
    if (v === undefined || v === null || v === "" || (Array.isArray(v) && !v.length)) continue;
    if (key === "options" && !Object.keys(v).length) continue;
    if (BY_FAMILY.has(key) && Array.isArray(v)) {
      for (const [family, list] of byFamily(v)) row(name + " (" + family + ")", fmt(list));
      continue;
    }
    row(name, fmt(v));
  }
  if (n.kind === "host") {
    for (const ag of a.agents || []) row(ag.binary || ag.agent_type, ag.alive ? "alive" : "DEAD");
  }
  for (const [name, text] of ovnRows(n)) row(name, text || "");
}

function actions(body, n) {
  const p = body.append("p").attr("class", "panel-actions");
  p.append("button").attr("type", "button").text(state.focus === n.id ? "Unfocus" : "Focus " + state.hops + " hops")
    .on("click", () => toggleFocus(n.id));
  const endpoint = endpointOf(n);
  if (endpoint) {
    const use = (which) => {
      setEndpoint(which, endpoint, n.kind === "server" || n.kind === "port" || n.kind === "fip" ? endpointLabel(n) : n.label + " (" + endpoint + ")");
      useOrAskOther(which);
    };
    p.append("button").attr("type", "button").attr("class", "set-src").text("Set as source").on("click", () => use("src"));
    p.append("button").attr("type", "button").attr("class", "set-dst").text("Set as destination").on("click", () => use("dst"));
  }
  if (isCollapsible(n)) {
    p.append("button").attr("type", "button").text(isCollapsed(n, state.model.count) ? "Expand" : "Collapse")
      .on("click", () => toggleCollapse(n.id));
  }
}

export function renderPanel() {
  const body = d3.select("#panel-body");
  body.selectAll("*").remove();
  const n = state.selected && state.nodes.get(state.selected);
  document.getElementById("panel-hint").hidden = !!n;
  if (!n) return;
  body.append("h2").text(n.label);
  body.append("p").attr("class", "muted").text(n.kind + (n.status ? " · " : ""))
    .append("span").attr("class", "status status-" + String(n.status || "").toLowerCase()).text(n.status || "");
  fields(body, n);
  const warnings = (n.attrs || {}).warnings || [];
  if (warnings.length) {
    body.append("h3").text("Warnings");
    body.append("ul").attr("class", "warnings").selectAll("li").data(warnings).join("li").text((w) => w);
  }
  actions(body, n);
}
