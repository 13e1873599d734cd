/* The OVN rows of the details panel (issue 17): what the join found of a node in OVN's NB and SB
 * (attrs.ovn, topology/join/ovn.py), in OVN's words. Rows are [label, text]; the panel renders text only.
 */

const yesNo = (v) => (v === true ? "yes" : v === false ? "no" : "unknown");

function portRows(o) {
  const rows = [];
  if (o.logical_switch_port) rows.push(["OVN Logical_Switch_Port", o.logical_switch_port + (o.type ? " (" + o.type + ")" : "")]);
  if (o.logical_router_port) rows.push(["OVN Logical_Router_Port", o.logical_router_port]);
  if ("chassis" in o) rows.push(["bound on chassis", o.chassis || "none"]);
  if ("up" in o) rows.push(["Port_Binding up", yesNo(o.up)]);
  if (o.active_chassis) rows.push(["gateway active on", o.active_chassis]);
  return rows;
}

function routerRows(o) {
  const rows = [["OVN Logical_Router", o.logical_router]];
  const gw = o.gateway;
  if (gw) {
    const chassis = (gw.gateway_chassis || []).map((c) => c.chassis + " (priority " + c.priority + ")").join(", ");
    rows.push(["gateway port", gw.port || "none"]);
    rows.push(["gateway chassis", chassis || "none"]);
    rows.push(["gateway active on", gw.active_chassis || "no chassis"]);
  }
  for (const nat of o.nat || []) rows.push(["NAT " + nat.type, nat.external_ip + " <- " + nat.logical_ip]);
  return rows;
}

function hostRows(o) {
  const rows = [["OVN chassis", o.chassis || "not in the southbound"]];
  const encaps = (o.encaps || []).map((e) => e.type + " " + e.ip).join(", ");
  if (encaps) rows.push(["encaps", encaps]);
  if ("gateway" in o) rows.push(["gateway chassis", yesNo(o.gateway)]);
  const local = o.local;
  if (local) {
    rows.push(["ovn-controller", local.controller || "not answering"]);
    if (local.remote) rows.push(["ovn-remote", local.remote]);
    const mappings = Object.entries(local.bridge_mappings || {}).map(([k, v]) => k + ":" + v).join(", ");
    rows.push(["ovn-bridge-mappings", mappings || "none"]);
  }
  return rows;
}

export function ovnRows(n) {
  const o = (n.attrs || {}).ovn;
  if (!o || typeof o !== "object") return [];
  if (n.kind === "router") return routerRows(o);
  if (n.kind === "host") return hostRows(o);
  if (n.kind === "network") return [["OVN Logical_Switch", o.logical_switch], ["its ports", String(o.ports ?? "")]];
  if (n.kind === "secgroup") {
    const acls = Object.entries(o.acls || {}).map(([k, v]) => k + " " + v).join(", ");
    return [["OVN Port_Group", o.port_group], ["ACLs", acls || "none"]];
  }
  if (n.kind === "fip" && o.nat) return [["OVN NAT " + o.nat.type, o.nat.external_ip + " <- " + o.nat.logical_ip]];
  return portRows(o);
}
