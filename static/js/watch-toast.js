/* A toast on any page when a watched path's verdict changes (/ws/watches/, topology/watches/consumer.py).
   Text only: the message holds names the server scoped, never markup. */

const VERDICT = { ok: "works again", broken: "is broken", unknown: "is unknown", absent: "is gone" };

function box() {
  let el = document.getElementById("watch-toasts");
  if (!el) {
    el = document.createElement("div");
    el.id = "watch-toasts";
    el.setAttribute("role", "status");
    el.setAttribute("aria-live", "polite");
    Object.assign(el.style, { position: "fixed", right: "1rem", bottom: "1rem", zIndex: 1000, maxWidth: "28rem" });
    document.body.appendChild(el);
  }
  return el;
}

export function toast(m) {
  const item = document.createElement("div");
  item.className = "watch-toast verdict-" + m.verdict;
  Object.assign(item.style, {
    background: m.verdict === "ok" ? "#1f8a4c" : "#b03a2e", color: "#fff", padding: "0.6rem 0.8rem",
    marginTop: "0.4rem", borderRadius: "4px", boxShadow: "0 2px 6px rgba(0,0,0,.3)",
  });
  const link = document.createElement("a");
  link.href = "/watches/#watch-" + m.watch;
  link.style.color = "inherit";
  link.textContent = "Watched path " + m.src + " → " + m.dst + " (" + m.probe + ") " + (VERDICT[m.verdict] || m.verdict) +
    (m.was ? " (was " + m.was + ")" : "") + ", revision " + m.revision;
  item.appendChild(link);
  box().appendChild(item);
  setTimeout(() => item.remove(), 15000);
}

export function connect(delay = 1000) {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/watches/");
  ws.addEventListener("message", (e) => {
    const m = JSON.parse(e.data);
    if (m.type === "watch.verdict") toast(m);
  });
  ws.addEventListener("close", (e) => {
    if (e.code !== 4401) setTimeout(() => connect(Math.min(delay * 2, 30000)), delay); // 4401: logged out
  });
}

connect();
