/* Security groups page (templates/secgroups.html): each group with its rules; open ICMP and SSH
 * (seed 000's first step) or remove one rule, as jobs followed live by jobs.js. An admin sees the
 * groups under their project's name, so the one `default` per project is never ambiguous.
 * ?port=<port id> (the path panel's link for a security-group diagnosis) marks that port's groups.
 * Names and descriptions come from tenants: only .textContent.
 */
(function () {
  "use strict";

  const { config, api, el, onUpdate, finished, actions } = window.neutronJobs;
  const { act, button } = actions("secgroups-page");
  const can = config.can;
  const box = document.getElementById("secgroups");
  const focusPort = new URLSearchParams(window.location.search).get("port") || "";
  const base = config.api.securityGroups;

  function ports(rule) {
    const low = rule.port_range_min, high = rule.port_range_max;
    if (low === null || low === undefined) return "any";
    if (String(rule.protocol).includes("icmp")) return `type ${low}` + (high !== null && high !== undefined ? ` code ${high}` : "");
    return low === high || high === null ? String(low) : `${low}-${high}`;
  }

  function remote(rule) {
    if (rule.remote_group_id) return `group ${rule.remote_group_name || rule.remote_group_id}`;
    return rule.remote_ip_prefix || (rule.ethertype === "IPv6" ? "::/0" : "0.0.0.0/0");
  }

  function ruleRow(group, rule) {
    const tr = el("tr", null, "rule");
    tr.dataset.id = rule.id;
    tr.append(el("td", rule.direction), el("td", rule.ethertype), el("td", rule.protocol || "any", "protocol"),
      el("td", ports(rule), "ports"), el("td", remote(rule), "remote"), el("td", rule.description, "description"));
    const cell = el("td");
    if (can.rules) {
      cell.append(button("Remove", () => {
        if (confirm(`Remove the rule "${rule.summary}" from ${group.name}?`)) {
          act("DELETE", `${base}${group.id}/rules/${rule.id}/`, undefined, `remove ${rule.summary} from ${group.name}`);
        }
      }, "small danger remove-rule"));
    }
    tr.append(cell);
    return tr;
  }

  function rulesTable(group) {
    const table = el("table", null, "grid rules");
    const head = el("tr");
    ["Direction", "Ether type", "Protocol", "Ports", "Remote", "Description", ""].forEach((t) => head.append(el("th", t)));
    const thead = el("thead");
    thead.append(head);
    const tbody = el("tbody");
    group.rules.forEach((rule) => tbody.append(ruleRow(group, rule)));
    if (!group.rules.length) {
      const empty = el("td", "No rules: nothing gets in or out.", "muted");
      empty.colSpan = 7;
      tbody.append(el("tr")).lastChild.append(empty);
    }
    table.append(thead, tbody);
    return table;
  }

  function openButtons(group, heading) {
    if (!can.rules) return;
    const url = `${base}${group.id}/open-icmp-ssh/`;
    if (!group.opens.icmp || !group.opens.ssh) {
      heading.append(button("Open ICMP and SSH", () => act("POST", url, undefined, `open ICMP and SSH in ${group.name}`),
        "small open-icmp-ssh"));
    }
    if (group.opens.icmp || group.opens.ssh) {
      heading.append(button("Close ICMP and SSH", () => {
        if (confirm(`Remove ICMP and SSH from anywhere in ${group.name}?`)) {
          act("DELETE", url, undefined, `close ICMP and SSH in ${group.name}`);
        }
      }, "small danger close-icmp-ssh"));
    }
  }

  function groupSection(group) {
    const section = el("section", null, "secgroup");
    section.dataset.id = group.id;
    section.dataset.project = group.project_id;
    const heading = el("h3");
    heading.append(el("span", group.name || group.id, "name"));
    if (can.all_projects) heading.append(el("span", ` · project ${group.project_name || group.project_id}`, "project"));
    heading.append(el("span", ` · ${group.port_ids.length} port(s)`, "muted"));
    openButtons(group, heading);
    if (focusPort && group.port_ids.includes(focusPort)) section.classList.add("focused");
    if (group.description) section.append(heading, el("p", group.description, "muted description"));
    else section.append(heading);
    section.append(rulesTable(group));
    return section;
  }

  function byProject(groups) {
    const projects = new Map();
    groups.forEach((g) => {
      if (!projects.has(g.project_id)) projects.set(g.project_id, { name: g.project_name, groups: [] });
      projects.get(g.project_id).groups.push(g);
    });
    return [...projects].map(([id, p]) => {
      const part = el("div", null, "project-groups");
      part.dataset.project = id;
      part.append(el("h2", `Project ${p.name || id}`), ...p.groups.map(groupSection));
      return part;
    });
  }

  function showFocus(groups) {
    const note = document.getElementById("secgroups-focus");
    if (!focusPort) return;
    const mine = groups.filter((g) => g.port_ids.includes(focusPort));
    note.hidden = false;
    note.textContent = mine.length
      ? `The security groups of port ${focusPort}: ${mine.map((g) => g.name).join(", ")} (marked below).`
      : `Port ${focusPort} is in none of the groups listed here.`;
  }

  async function load() {
    try {
      const data = await api("GET", base);
      const groups = data.security_groups;
      box.replaceChildren(...(can.all_projects ? byProject(groups) : groups.map(groupSection)));
      if (!groups.length) box.replaceChildren(el("p", "No security groups."));
      showFocus(groups);
    } catch (error) {
      box.replaceChildren(el("p", `Cannot list security groups: ${error.message}`, "error"));
    }
  }

  onUpdate((job, before) => {
    if (finished(job) && (!before || !finished(before))) load();
  });
  load();
})();
