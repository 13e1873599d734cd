/* Floating IPs page (templates/fips.html): list, allocate, associate with a target picker and a
 * path preview, disassociate, release. Every action is a job followed live by jobs.js.
 * Names come from tenants: only ever .textContent.
 */
(function () {
  "use strict";

  const { config, api, el, onUpdate, finished, messageRow, actions } = window.neutronJobs;
  const { showError, act, button } = actions("fips-page");
  const can = config.can;
  const tbody = document.querySelector("#fips tbody");
  const picker = document.getElementById("associate");
  const targetList = document.getElementById("targets");
  const preview = document.getElementById("path-preview");
  const submit = document.getElementById("associate-submit");
  let networks = new Map();
  let picking = null; // the floating IP being associated

  function row(fip) {
    const tr = el("tr");
    tr.dataset.id = fip.id;
    tr.dataset.address = fip.floating_ip_address;
    const pointsAt = el("td");
    if (fip.port_id) {
      pointsAt.append(el("span", fip.fixed_ip_address, "fixed-ip"), el("code", ` port ${fip.port_id.slice(0, 8)}`));
    } else {
      pointsAt.append(el("span", "not associated", "muted"));
    }
    const actions = el("td", null, "actions");
    const base = `${config.api.floatingIps}${fip.id}/`;
    if (can.associate && !fip.port_id) actions.append(button("Associate", () => openPicker(fip), "small associate"));
    if (can.disassociate && fip.port_id) {
      actions.append(button("Disassociate", () => {
        // as Release (and Horizon for both): the VM stops being reachable from outside at once
        if (confirm(`Disassociate ${fip.floating_ip_address} from ${fip.fixed_ip_address}?`)) {
          act("POST", `${base}disassociate/`, undefined, `disassociate ${fip.floating_ip_address}`);
        }
      }, "small disassociate"));
    }
    if (can.release) {
      actions.append(button("Release", () => {
        if (confirm(`Release ${fip.floating_ip_address}?`)) act("DELETE", base, undefined, `release ${fip.floating_ip_address}`);
      }, "small danger release"));
    }
    const cells = [el("td", fip.floating_ip_address, "address")];
    if (can.all_projects) cells.push(el("td", fip.project_id, "mono"));
    cells.push(pointsAt, el("td", fip.status, `status status-${String(fip.status).toLowerCase()}`), actions);
    tr.append(...cells);
    return tr;
  }

  async function load() {
    try {
      const data = await api("GET", config.api.floatingIps);
      networks = new Map(data.external_networks.map((n) => [n.id, n]));
      const select = document.getElementById("allocate-network");
      if (select && !select.options.length) {
        data.external_networks.forEach((n) => select.append(new Option(n.name || n.id, n.id)));
      }
      tbody.replaceChildren(...data.floating_ips.map(row));
      if (!data.floating_ips.length) tbody.append(messageRow("No floating IPs yet.", 5));
    } catch (error) {
      tbody.replaceChildren(messageRow(`Cannot list floating IPs: ${error.message}`, 5));
    }
  }

  // ------------------------------------------------------------------ allocate
  const allocate = document.getElementById("allocate-form");
  if (allocate) {
    allocate.addEventListener("submit", (event) => {
      event.preventDefault();
      const network = allocate.elements.floating_network_id.value;
      const name = (networks.get(network) || {}).name || network;
      act("POST", config.api.floatingIps, { floating_network_id: network }, `allocate from ${name}`);
    });
  }

  // ------------------------------------------------------------------ associate: target picker
  async function openPicker(fip) {
    picking = fip;
    picker.hidden = false;
    submit.disabled = true;
    preview.replaceChildren();
    document.getElementById("associate-address").textContent = fip.floating_ip_address;
    targetList.replaceChildren(el("li", "Loading targets…", "muted"));
    try {
      const data = await api("GET", `${config.api.floatingIps}${fip.id}/targets/`);
      picking.outsideIp = data.outside_ip;
      targetList.replaceChildren(...data.targets.map(targetItem));
      if (!data.targets.length) targetList.append(el("li", "This project has no port to point it at.", "muted"));
    } catch (error) {
      targetList.replaceChildren(el("li", error.message, "error"));
    }
  }

  function targetItem(target) {
    const li = el("li", null, target.reachable ? "target" : "target unreachable");
    const label = el("label");
    const radio = el("input");
    radio.type = "radio";
    radio.name = "target";
    radio.value = `${target.port_id}|${target.fixed_ip}`;
    radio.disabled = !target.reachable;
    radio.dataset.port = target.port_id;
    radio.dataset.fixedIp = target.fixed_ip;
    radio.addEventListener("change", () => { submit.disabled = false; showPreview(target); });
    label.append(radio, el("span", target.port_name || target.port_id.slice(0, 8), "name"),
      el("span", target.fixed_ip, "fixed-ip"), el("span", target.subnet_name ? `(${target.subnet_name})` : "", "muted"));
    if (target.floating_ip) label.append(el("span", `already has ${target.floating_ip}`, "warn"));
    li.append(label);
    if (!target.reachable) li.append(el("div", target.reason, "reason"));
    return li;
  }

  // The way in is what an association is for: outside -> floating IP -> VM. The explainer can only
  // walk it once Neutron has the association, so it is told from the target and the router the way
  // out crosses (its walk names legacy or DVR); the way out is the explainer's own walk, beside it.
  async function showPreview(target) {
    preview.replaceChildren(el("p", "Path preview…", "muted"));
    if (!picking || !picking.outsideIp) {
      preview.replaceChildren(el("p", "No path preview: the external network has no gateway address.", "muted"));
      return;
    }
    const fip = picking;
    const query = new URLSearchParams({ src: `port:${target.port_id}`, dst: fip.outsideIp });
    try {
      const path = await api("GET", `${config.api.path}?${query}`);
      const dvr = String(path.scenario).endsWith("-dvr");
      const wayIn = el("div", null, "way way-in");
      const steps = el("ol", null, "hops");
      const router = target.router_id ? `router ${target.router_id.slice(0, 8)}` : "the router";
      [
        `a host outside (${fip.outsideIp}) sends to ${fip.floating_ip_address}`,
        dvr ? `fg- in the fip namespace on the VM's host answers ARP for ${fip.floating_ip_address}, `
          + "routes it over fpr-/rfp- into the distributed router"
          : `qg- of ${router} on the external network answers ARP for ${fip.floating_ip_address}`,
        `the qrouter namespace DNATs ${fip.floating_ip_address} to ${target.fixed_ip}`,
        `qr- hands it to subnet ${target.subnet_name || target.subnet_id}`,
        `the VM's port ${target.port_name || target.port_id.slice(0, 8)} receives it at ${target.fixed_ip}`
          + " (if its security groups allow the protocol in)",
      ].forEach((what) => steps.append(el("li", what, "hop")));
      wayIn.append(el("h2", `Way in: outside → ${fip.floating_ip_address} → ${target.fixed_ip}`),
        el("p", "What the association sets up (the explainer checks it on the map once it is made).", "muted"),
        steps);
      const wayOut = el("div", null, "way way-out");
      const head = el("p", null, `verdict verdict-${path.verdict}`);
      head.append(el("strong", `Path ${target.fixed_ip} → outside (${fip.outsideIp}): ${path.verdict}`),
        el("span", ` ${path.scenario}: the router and bridges the VM's traffic crosses today`, "muted"));
      const hops = el("ol", null, "hops");
      path.hops.forEach((hop) => {
        const li = el("li", null, `hop status-${hop.status}`);
        li.append(el("span", hop.what), el("code", hop.node ? ` ${hop.node}` : ""));
        hops.append(li);
      });
      const problems = el("ul", null, "problems");
      path.problems.forEach((p) => problems.append(el("li", p.message, "warn")));
      wayOut.append(el("h2", `Way out: ${target.fixed_ip} → outside`), head, hops, problems);
      preview.replaceChildren(wayIn, wayOut);
    } catch (error) {
      preview.replaceChildren(el("p", `No path preview: ${error.message}`, "muted"));
    }
  }

  document.getElementById("associate-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = targetList.querySelector("input[name=target]:checked");
    if (!picking || !chosen) return;
    const fip = picking;
    const job = await act("POST", `${config.api.floatingIps}${fip.id}/associate/`,
      { port_id: chosen.dataset.port, fixed_ip: chosen.dataset.fixedIp },
      `associate ${fip.floating_ip_address} with ${chosen.dataset.fixedIp}`);
    if (job !== null) closePicker();
  });
  document.getElementById("associate-cancel").addEventListener("click", closePicker);

  function closePicker() {
    picking = null;
    picker.hidden = true;
  }

  onUpdate((job, before) => {
    if (finished(job) && (!before || !finished(before))) load();
  });
  load();
})();
