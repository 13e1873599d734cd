/* Jobs: live progress over /ws/jobs/, shared by the Floating IPs, Routers and Jobs pages.
 *
 * window.neutronJobs gives the page scripts: api() (lib/net.js: fetch with the form's CSRF
 * token), track(jobId, label) (a line in #job-feed, updated live), onUpdate(fn)
 * and el() (elements whose text is set with .textContent: names come from tenants).
 * On the Jobs page it also renders the jobs table and the audit log.
 */
import { api, liveSocket } from "./lib/net.js";

(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("page-config").textContent);
  // unconfirmed: Neutron took the change, the data plane did not show it within the bound (not a success)
  const FINISHED = new Set(["succeeded", "failed", "unconfirmed"]);
  const listeners = [];
  const jobs = new Map(); // id -> last job dict seen
  let live = null;
  let pollTimer = null;

  function messageRow(text, columns) {
    const row = el("tr");
    const cell = el("td", text);
    cell.colSpan = columns;
    row.append(cell);
    return row;
  }

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function feedLine(id) {
    const feed = document.getElementById("job-feed");
    if (!feed) return null;
    let line = feed.querySelector(`li[data-job="${id}"]`);
    if (!line) {
      line = el("li", null, "job");
      line.dataset.job = String(id);
      line.append(el("span", `#${id}`, "job-id"), el("span", "", "job-label"), el("progress"),
        el("span", "queued", "job-state"), el("span", "", "job-message"));
      line.querySelector("progress").max = 100;
      feed.prepend(line);
    }
    return line;
  }

  function render(job) {
    const line = feedLine(job.id);
    if (!line) return;
    line.className = `job state-${job.state}`;
    line.querySelector("progress").value = job.progress;
    line.querySelector(".job-state").textContent = job.state;
    line.querySelector(".job-message").textContent = job.message || "";
  }

  function receive(job) {
    const before = jobs.get(job.id);
    jobs.set(job.id, job);
    render(job);
    listeners.forEach((fn) => fn(job, before));
  }

  function track(id, label) {
    const line = feedLine(id);
    if (line && label) line.querySelector(".job-label").textContent = label;
    if (!jobs.has(id)) jobs.set(id, { id, state: "queued", progress: 0, message: "" });
    watch(id);
  }

  function watch(id) {
    if (!live || !live.send({ type: "job.watch", job: id })) schedulePoll();
  }

  // Without a socket, unfinished jobs are polled: the page never depends on the live channel.
  function schedulePoll() {
    if (pollTimer) return;
    pollTimer = setTimeout(async () => {
      pollTimer = null;
      const open = [...jobs.values()].filter((j) => !FINISHED.has(j.state));
      for (const job of open) {
        try { receive(await api("GET", `${config.api.jobs}${job.id}/`)); } catch (e) { /* next round */ }
      }
      if ((!live || !live.isOpen()) && open.length) schedulePoll();
    }, 2000);
  }

  // The live channel: reopened after 1 s, 2 s, 4 s… (at most 30 s) without being reset by an open.
  function connect() {
    live = liveSocket(config.ws, {
      delay: (attempt) => Math.min(1000 * 2 ** (attempt - 1), 30000),
      resetOnOpen: false,
      open: () => {
        document.body.dataset.jobsLive = "open";
        jobs.forEach((job) => { if (!FINISHED.has(job.state)) watch(job.id); });
      },
      message: (message) => { if (message.type === "job.update") receive(message.job); },
      close: (event) => {
        document.body.dataset.jobsLive = "closed";
        if (event.code !== 4401) schedulePoll(); // logged out: the next page load goes to the login page
      },
    });
  }

  // The action helpers of a page whose root element is #`pageId`: an error box (role=alert) at its top,
  // act() (a request that queues a job, then followed live; its error shown, null returned), button().
  function actions(pageId) {
    function showError(message) {
      let box = document.getElementById("action-error");
      if (!box) {
        box = el("p", "", "error");
        box.id = "action-error";
        box.setAttribute("role", "alert");
        document.getElementById(pageId).prepend(box);
      }
      box.textContent = message;
      box.hidden = !message;
    }

    async function act(method, url, body, label) {
      showError("");
      try {
        const answer = await api(method, url, body);
        track(answer.job, label);
        return answer.job;
      } catch (error) {
        showError(error.message);
        return null;
      }
    }

    function button(text, handler, className) {
      const b = el("button", text, className || "small");
      b.type = "button";
      b.addEventListener("click", handler);
      return b;
    }

    return { showError, act, button };
  }

  window.neutronJobs = {
    config, api, el, track, messageRow, actions,
    onUpdate(fn) { listeners.push(fn); },
    finished(job) { return FINISHED.has(job.state); },
  };
  connect();

  // ------------------------------------------------------------------ the Jobs page
  const jobsTable = document.querySelector("#jobs tbody");
  if (!jobsTable) return;

  function jobRow(job) {
    let row = jobsTable.querySelector(`tr[data-job="${job.id}"]`);
    if (!row) {
      row = el("tr");
      row.dataset.job = String(job.id);
      jobsTable.prepend(row);
    }
    const progress = el("progress");
    progress.max = 100;
    progress.value = job.progress;
    const cells = [el("td", job.id), el("td", job.kind), el("td", job.target, "mono"),
      el("td", job.state, `state state-${job.state}`), el("td"), el("td", job.message),
      el("td", job.created_at ? new Date(job.created_at).toLocaleString() : "")];
    cells[4].append(progress);
    row.replaceChildren(...cells);
  }

  async function loadJobsPage() {
    const [jobList, audit] = await Promise.all([api("GET", config.api.jobs), api("GET", config.api.audit)]);
    jobsTable.replaceChildren();
    jobList.jobs.slice().reverse().forEach((job) => { jobs.set(job.id, job); jobRow(job); });
    if (!jobList.jobs.length) jobsTable.append(messageRow("No jobs yet.", 7));
    const auditBody = document.querySelector("#audit tbody");
    auditBody.replaceChildren(...audit.entries.map((entry) => {
      const row = el("tr", null, `audit result-${entry.result}`);
      row.append(el("td", new Date(entry.at).toLocaleString()), el("td", entry.user_name), el("td", entry.project_id, "mono"),
        el("td", entry.action), el("td", entry.target, "mono"), el("td", entry.result), el("td", entry.message));
      return row;
    }));
    if (!audit.entries.length) auditBody.append(messageRow("Nothing yet.", 7));
  }

  listeners.push((job) => jobRow(job));
  loadJobsPage().catch((error) => jobsTable.replaceChildren(messageRow(error.message, 7)));
})();
