/* The one fetch and websocket helper of the pages (map, jobs): JSON over the session's cookie,
 * and a websocket to this host that reconnects after a delay of the caller's choosing.
 */

export function csrfToken() {
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

// fetch() with the session, asking for JSON: {status, ok, data} (data null when the body is not JSON).
export async function request(url, method = "GET", body = undefined) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (method !== "GET") {
    init.headers["X-CSRFToken"] = csrfToken();
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
  }
  const response = await fetch(url, init);
  let data = null;
  try { data = await response.json(); } catch (err) { data = null; }
  return { status: response.status, ok: response.ok, statusText: response.statusText, data };
}

// request() that throws on an HTTP error (the API's detail as the message, .status set) and returns the data.
export async function api(method, url, body) {
  const answer = await request(url, method, body);
  if (!answer.ok) {
    const error = new Error((answer.data && answer.data.detail) || `${answer.status} ${answer.statusText}`);
    error.status = answer.status;
    throw error;
  }
  return answer.data || {};
}

// A websocket to `path` on this host, opened again after `delay(attempt)` ms whenever it closes,
// except after close code 4401 (the session ended). `attempt` counts closes since the last open
// (or since the start when `resetOnOpen` is false). Handlers: open(), message(parsed JSON), close(event).
export function liveSocket(path, { open, message, close, delay, resetOnOpen = true }) {
  const live = { socket: null, attempt: 0 };
  const connect = () => {
    const socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + path);
    live.socket = socket;
    socket.addEventListener("open", () => {
      if (resetOnOpen) live.attempt = 0;
      if (open) open();
    });
    socket.addEventListener("message", (event) => { if (message) message(JSON.parse(event.data)); });
    socket.addEventListener("close", (event) => {
      if (close) close(event);
      if (event.code === 4401) return;
      live.attempt += 1;
      setTimeout(connect, delay(live.attempt));
    });
  };
  live.isOpen = () => !!live.socket && live.socket.readyState === WebSocket.OPEN;
  live.send = (msg) => {
    if (!live.isOpen()) return false;
    live.socket.send(JSON.stringify(msg));
    return true;
  };
  connect();
  return live;
}
