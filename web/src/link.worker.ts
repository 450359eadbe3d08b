//! The link to berthd, in a dedicated worker: the event WebSocket, and while it is down, a
//! probe (`GET /api/v1/auth/session`: public, small, never 401) with backoff until the daemon
//! answers again. Connection failures happen
//! here, off the page (the page's console stays clean of the browser's own network errors),
//! and the page only hears `up`, `down` (with the next retry) and events.
//!
//! Page → worker: `{connect: {csrf}}`, `{offline: true|false}` (the browser's network),
//! `{retry: true}` (try now), `{stop: true}`.
//! Worker → page: `{up: true}`, `{down: {reason, retryAt}}`, `{event: text}`, `{auth: true}`
//! (the daemon answers but refuses the stream: the session needs renewing).

/// Seconds between probes while down: doubling from half a second up to ten.
const BACKOFF = [0.5, 1, 2, 4, 8, 10];
/// Nothing on the stream for this long: probe the daemon in case the network dropped silently.
const QUIET_MS = 30_000;

type Out = { up: true } | { down: { reason: string; retryAt: number } } | { event: string } | { auth: true };

let csrf: string | null = null;
let ws: WebSocket | null = null;
let stopped = true;
let offline = false;
let attempt = 0;
let retryTimer: ReturnType<typeof setTimeout> | undefined;
let quietTimer: ReturnType<typeof setTimeout> | undefined;
let refused = 0;

const post = (m: Out) => (self as unknown as Worker).postMessage(m);

function streamUrl(): string {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const q = new URLSearchParams({ types: "operation,lifecycle,metrics" });
  if (csrf) q.set("csrf", csrf);
  return `${proto}://${location.host}/api/v1/events?${q}`;
}

/** Whether berthd answers within 5 s, and whether this browser's session is still good. */
async function alive(): Promise<"up" | "down" | "signed-out"> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 5000);
  try {
    const r = await fetch("/api/v1/auth/session", { cache: "no-store", credentials: "same-origin", signal: abort.signal });
    if (!r.ok) return "down";
    const body = (await r.json()) as { signed_in?: boolean };
    return body.signed_in ? "up" : "signed-out";
  } catch {
    return "down";
  } finally {
    clearTimeout(timer);
  }
}

function down(reason: string): void {
  ws = null;
  clearTimeout(quietTimer);
  if (stopped) return;
  const delay = BACKOFF[Math.min(attempt, BACKOFF.length - 1)] * 1000;
  attempt += 1;
  post({ down: { reason, retryAt: Date.now() + delay } });
  clearTimeout(retryTimer);
  retryTimer = setTimeout(() => void reconnect(), delay);
}

async function reconnect(): Promise<void> {
  clearTimeout(retryTimer);
  if (stopped || ws) return;
  if (offline) return down("this browser is offline");
  const state = await alive();
  if (stopped || ws) return;
  if (state === "down") return down("berthd does not answer");
  if (state === "signed-out") {
    // The access cookie lasts 15 minutes: the page renews the session and connects again.
    post({ auth: true });
    return;
  }
  open();
}

function quiet(): void {
  clearTimeout(quietTimer);
  quietTimer = setTimeout(async () => {
    if (ws && (await alive()) === "down") {
      const s = ws;
      ws = null;
      s.onclose = null;
      s.close();
      down("berthd stopped answering");
    } else quiet();
  }, QUIET_MS);
}

function open(): void {
  const socket = new WebSocket(streamUrl());
  ws = socket;
  let opened = false;
  socket.onopen = () => {
    opened = true;
    attempt = 0;
    refused = 0;
    post({ up: true });
    quiet();
  };
  socket.onmessage = (m) => {
    quiet();
    if (typeof m.data === "string") post({ event: m.data });
  };
  socket.onclose = () => {
    if (ws !== socket) return;
    if (!opened) {
      // The daemon answered /healthz but refused the stream: most likely the session (the
      // access cookie lasts 15 minutes). The page renews it and connects again.
      refused += 1;
      if (refused <= 2) {
        ws = null;
        post({ auth: true });
        return;
      }
    }
    down(opened ? "the connection to berthd was lost" : "berthd refuses the event stream");
  };
}

self.onmessage = (m: MessageEvent) => {
  const msg = m.data as { connect?: { csrf: string | null }; offline?: boolean; retry?: boolean; stop?: boolean };
  if (msg.connect) {
    csrf = msg.connect.csrf;
    stopped = false;
    if (!ws) void reconnect();
  } else if (msg.offline !== undefined) {
    offline = msg.offline;
    if (offline && ws) {
      const s = ws;
      ws = null;
      s.onclose = null;
      s.close();
      attempt = 0;
      down("this browser is offline");
    } else if (!offline && !ws) {
      attempt = 0;
      void reconnect();
    }
  } else if (msg.retry) {
    attempt = 0;
    if (!ws) void reconnect();
  } else if (msg.stop) {
    stopped = true;
    clearTimeout(retryTimer);
    clearTimeout(quietTimer);
    const s = ws;
    ws = null;
    if (s) {
      s.onclose = null;
      s.close();
    }
  }
};
