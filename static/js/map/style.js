/* The visual grammar shared by the SVG and canvas renderers and the legend: fills, strokes,
 * shapes and labels per kind, status classes, and the titles written on boxes and glyphs.
 */
import { state, vocabulary } from "./store.js";
import { countsText } from "./collapsed.js";

export const SLOT = 100;
export const GLYPH = { w: SLOT, h: 44 };

export const NODE_STYLE = {
  host: { fill: "#f2f4f7", stroke: "#5b6472", label: "host" },
  "netns:qrouter": { fill: "#e3f4e8", stroke: "#1f8a4c", label: "qrouter namespace" },
  "netns:snat": { fill: "#fdf0dc", stroke: "#b7791f", label: "snat namespace" },
  "netns:fip": { fill: "#fdf0dc", stroke: "#d35400", label: "fip namespace" },
  "netns:qdhcp": { fill: "#e4eefc", stroke: "#2a6fdb", label: "qdhcp namespace" },
  "netns:ovnmeta": { fill: "#e4eefc", stroke: "#5a7fbf", label: "ovnmeta namespace (OVN metadata)" },
  "netns:vm": { fill: "#efe6fa", stroke: "#7d3cc8", label: "VM (namespace)" },
  "netns:other": { fill: "#f1f1f1", stroke: "#888", label: "other namespace" },
  "bridge:ovs": { fill: "#dff3f3", stroke: "#137a7f", label: "OVS bridge" },
  "bridge:linux": { fill: "#f1f3d9", stroke: "#7a7f13", label: "Linux bridge (qbr)" },
  network: { fill: "#e4eefc", stroke: "#2a6fdb", label: "network" },
  "network:external": { fill: "#fdecc8", stroke: "#b7791f", label: "external network" },
  router: { fill: "#e3f4e8", stroke: "#1f8a4c", label: "router" },
  server: { fill: "#efe6fa", stroke: "#7d3cc8", label: "VM" },
};
export const GLYPH_STYLE = {
  subnet: { shape: d3.symbolSquare, fill: "#2a6fdb", label: "subnet" },
  port: { shape: d3.symbolCircle, fill: "#4a5568", label: "port" },
  fip: { shape: d3.symbolDiamond, fill: "#e67e22", label: "floating IP" },
  "iface:qr": { shape: d3.symbolCircle, fill: "#1f8a4c", label: "qr- (router interface)" },
  "iface:qg": { shape: d3.symbolCircle, fill: "#b7791f", label: "qg- (router gateway)" },
  "iface:fg": { shape: d3.symbolCircle, fill: "#d35400", label: "fg-/rfp-/fpr- (DVR)" },
  "iface:tap": { shape: d3.symbolCircle, fill: "#2a6fdb", label: "tap" },
  "iface:qvo": { shape: d3.symbolCircle, fill: "#137a7f", label: "qvo / qvb veth" },
  "iface:patch": { shape: d3.symbolTriangle, fill: "#137a7f", label: "OVS patch port" },
  "iface:tunnel": { shape: d3.symbolStar, fill: "#7d3cc8", label: "tunnel port (vxlan/gre)" },
  "iface:nic": { shape: d3.symbolSquare, fill: "#1d2430", label: "physical NIC" },
  "iface:other": { shape: d3.symbolCircle, fill: "#9aa3b0", label: "other interface" },
};
export const LINK_STYLE = {
  veth: { stroke: "#4a5568", dash: null, label: "veth pair" },
  patch: { stroke: "#137a7f", dash: "6 3", label: "OVS patch" },
  tunnel: { stroke: "#7d3cc8", dash: "2 3", label: "tunnel" },
  on_network: { stroke: "#8da2c0", dash: null, label: "port on network" },
  gateway: { stroke: "#b7791f", dash: null, label: "router gateway" },
  nat: { stroke: "#e67e22", dash: "4 2", label: "floating IP NAT" },
};
export const DOWN_STROKE = "#c0392b";
export const TEXT_FILL = "#1d2430";

const TUNNEL_TYPES = new Set(vocabulary.tunnel_types || []);

export function nodeStyleKey(n) {
  if (n.kind === "netns") return "netns:" + (NODE_STYLE["netns:" + n.attrs.role] ? n.attrs.role : "other");
  if (n.kind === "bridge") return "bridge:" + (n.attrs.type === "linux" ? "linux" : "ovs");
  if (n.kind === "network") return n.attrs.external ? "network:external" : "network";
  return n.kind;
}

export function glyphStyleKey(n) {
  if (n.kind !== "iface") return n.kind;
  const a = n.attrs;
  if (a.ovs_type === "patch") return "iface:patch";
  if (TUNNEL_TYPES.has(a.ovs_type)) return "iface:tunnel";
  if (a.role === "qr" || a.role === "qg" || a.role === "tap") return "iface:" + a.role;
  if (["fg", "rfp", "fpr", "sg", "ha"].includes(a.role)) return "iface:fg";
  if (a.role === "qvo" || a.role === "qvb") return "iface:qvo";
  if (a.if_kind === "physical" || (a.ovs_type === "system" && !a.role && !a.namespace)) return "iface:nic";
  return "iface:other";
}

export const nodeStyle = (n) => NODE_STYLE[nodeStyleKey(n)];
export const glyphStyle = (n) => GLYPH_STYLE[glyphStyleKey(n)];

export function statusClass(n) {
  const s = (n.status || "").toUpperCase();
  if (s === "DOWN" || s === "ERROR" || s === "BUILD") return "st-down";
  if (s === "UNKNOWN") return "st-unknown";
  if (s === "STALE") return "st-stale";
  return "";
}

export function isContainer(n, view) {
  if (view === "physical") return n.kind === "host" || n.kind === "netns" || n.kind === "bridge";
  return n.kind === "network" || n.kind === "router" || n.kind === "server";
}

export function shorten(s, max) {
  s = String(s == null ? "" : s);
  return s.length > max ? s.slice(0, max - 1) + "…" : s;
}

export function labelWidth(n) {
  return Math.min(n.label.length, 40) * 6.6 + 36;
}

export function boxTitle(n) {
  const prefix = { host: "host ", router: "router ", server: "VM ", network: n.attrs.external ? "external " : "" }[n.kind] || "";
  let label = n.label;
  if (n.kind === "netns" && label.length > 24) label = shorten(label, 24);
  const down = n.kind === "host" && n.status === "DOWN" ? " — agent down"
    : n.kind === "host" && n.attrs.stale ? " — no report since " + new Date(n.attrs.stale).toLocaleString() : "";
  return prefix + label + down;
}

export function boxSubtitle(n, model) {
  if (n.kind === "host") {
    if (n.attrs.collapsed && !(model.children.get(n.id) || []).length) return countsText(n); // collapsed.js
    const counts = d3.rollup(model.children.get(n.id) || [], (v) => v.length, (c) => state.nodes.get(c).kind);
    return Array.from(counts, ([k, v]) => v + " " + k + (v > 1 ? (k.endsWith("s") ? "es" : "s") : "")).join(", ");
  }
  if (n.kind === "bridge") return (n.attrs.type === "linux" ? "Linux bridge" : "OVS") + ", " + ((model.children.get(n.id) || []).length) + " ports";
  if (n.kind === "network") return [n.attrs.network_type, n.attrs.segmentation_id != null ? "seg " + n.attrs.segmentation_id : null, n.status].filter(Boolean).join(" · ");
  return n.status || "";
}

export function glyphSubtitle(n) {
  const a = n.attrs || {};
  if (n.kind === "iface") {
    if (a.tag != null) return "tag " + a.tag;
    if (a.addresses && a.addresses.length) return shorten(a.addresses[0], 18);
    if (a.remote_host) return "→ " + a.remote_host;
    return "";
  }
  if (n.kind === "subnet") return a.cidr && a.cidr !== n.label ? shorten(a.cidr, 18) : "";
  if (n.kind === "port") return shorten(a.device_owner ? a.device_owner.replace("network:", "").replace("compute:", "VM ") : "", 18);
  return "";
}
