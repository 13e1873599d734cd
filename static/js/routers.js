/* Routers page (templates/routers.html): external gateway set/clear, interfaces add/remove.
 * Every action is a job followed live by jobs.js. Names come from tenants: only .textContent.
 */
(function () {
  "use strict";

  const { config, api, el, onUpdate, finished, messageRow, actions } = window.neutronJobs;
  const { showError, act, button } = actions("routers-page");
  const can = config.can;
  const tbody = document.querySelector("#routers tbody");
  let networks = [];
  let subnets = [];

  function select(name, options) {
    const s = el("select");
    s.name = name;
    options.forEach(([value, text]) => s.append(new Option(text, value)));
    return s;
  }

  function subnetLabel(id) {
    const subnet = subnets.find((s) => s.id === id);
    return subnet ? `${subnet.name || subnet.id.slice(0, 8)} ${subnet.cidr}` : id.slice(0, 8);
  }

  function orphanWarning(router, td) {
    // Admins only (the list carries orphan_gateway_ports for them): a gateway port Neutron left behind.
    const orphans = router.orphan_gateway_ports || [];
    if (!orphans.length) return;
    const ips = orphans.map((p) => p.ips.join(", ")).join("; ");
    td.append(el("div", `orphan gateway port ${ips}: the router still routes by it`, "warn orphan-gateway"));
    td.append(button("Remove orphan gateway port", () => act("POST", `${config.api.routers}${router.id}/repair/`,
      undefined, `remove the orphan gateway port of ${router.name}`), "small danger repair-gateway"));
  }

  function gatewayCell(router) {
    const td = el("td", null, "gateway");
    const base = `${config.api.routers}${router.id}/gateway/`;
    orphanWarning(router, td);
    if (router.gateway) {
      const net = networks.find((n) => n.id === router.gateway.network_id);
      td.append(el("span", net ? net.name : router.gateway.network_id, "network"));
      router.gateway.external_fixed_ips.forEach((ip) => td.append(el("code", ` ${ip.ip_address}`)));
      if (router.gateway.enable_snat === false) td.append(el("span", " SNAT off", "warn"));
      if (can.gateway) td.append(button("Clear", () => act("DELETE", base, undefined, `clear gateway of ${router.name}`), "small danger clear-gateway"));
      return td;
    }
    td.append(el("span", "no gateway ", "warn"));
    if (!can.gateway || !networks.length) return td;
    const network = select("network_id", networks.map((n) => [n.id, n.name || n.id]));
    const parts = [network];
    let snat = null;
    if (can.enable_snat) { // admins only: Neutron refuses enable_snat from members
      snat = el("input");
      snat.type = "checkbox";
      snat.checked = true;
      const label = el("label", " SNAT");
      label.prepend(snat);
      parts.push(label);
    }
    parts.push(button("Set gateway", () => {
      const body = { network_id: network.value };
      if (snat) body.enable_snat = snat.checked;
      act("PUT", base, body, `set gateway of ${router.name}`);
    }, "small set-gateway"));
    td.append(...parts);
    return td;
  }

  function interfacesCell(router) {
    const td = el("td", null, "interfaces");
    const list = el("ul", null, "plain");
    router.interfaces.forEach((iface) => {
      const li = el("li");
      li.append(el("span", `${subnetLabel(iface.subnet_id)} `), el("code", iface.ip_address));
      if (iface.device_owner !== "network:router_interface") li.append(el("span", ` ${iface.device_owner.replace("network:", "")}`, "muted"));
      if (can.interfaces) {
        li.append(button("Remove", () => act("DELETE", `${config.api.routers}${router.id}/interfaces/${iface.subnet_id}/`,
          undefined, `remove ${subnetLabel(iface.subnet_id)} from ${router.name}`), "small danger remove-interface"));
      }
      list.append(li);
    });
    td.append(list);
    const attached = new Set(router.interfaces.map((i) => i.subnet_id));
    const free = subnets.filter((s) => !attached.has(s.id) && (!can.all_projects || s.project_id === router.project_id));
    if (can.interfaces && free.length) {
      const subnet = select("subnet_id", free.map((s) => [s.id, `${s.name || s.id.slice(0, 8)} ${s.cidr}`]));
      td.append(subnet, button("Add interface", () => act("POST", `${config.api.routers}${router.id}/interfaces/`,
        { subnet_id: subnet.value }, `add ${subnetLabel(subnet.value)} to ${router.name}`), "small add-interface"));
    }
    return td;
  }

  function row(router) {
    const tr = el("tr");
    tr.dataset.id = router.id;
    const kind = router.distributed ? "DVR" : router.ha ? "HA" : "legacy";
    tr.append(el("td", router.name || "(no name)", "name"), el("td", kind),
      el("td", router.status, `status status-${String(router.status).toLowerCase()}`), gatewayCell(router), interfacesCell(router));
    return tr;
  }

  async function load() {
    try {
      const data = await api("GET", config.api.routers);
      networks = data.external_networks;
      subnets = data.subnets;
      tbody.replaceChildren(...data.routers.map(row));
      if (!data.routers.length) tbody.append(messageRow("No routers.", 5));
    } catch (error) {
      tbody.replaceChildren(messageRow(`Cannot list routers: ${error.message}`, 5));
    }
  }

  onUpdate((job, before) => {
    if (finished(job) && (!before || !finished(before))) load();
  });
  load();
})();
