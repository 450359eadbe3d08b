//! The live event stream: one WebSocket to `/api/v1/events` shared by every page. Pages
//! subscribe with a filter and get operation, lifecycle and metrics events as they happen.
//! When the daemon has no event stream the status says so and pages fall back to re-reading
//! after their own actions.

import { csrfToken, get } from "./api";
import type { BerthEvent } from "./contracts";

type Listener = (e: BerthEvent) => void;
export type StreamStatus = "connecting" | "live" | "unavailable";

const listeners = new Set<Listener>();
const statusListeners = new Set<(s: StreamStatus) => void>();
let ws: WebSocket | null = null;
let status: StreamStatus = "connecting";
let failures = 0;
let everOpened = false;
let stopped = false;

function setStatus(s: StreamStatus): void {
  status = s;
  statusListeners.forEach((f) => f(s));
}

export function streamStatus(): StreamStatus {
  return status;
}

export function onStatus(f: (s: StreamStatus) => void): () => void {
  statusListeners.add(f);
  f(status);
  return () => statusListeners.delete(f);
}

/** Opens the stream (after login). Reconnects with backoff; gives up after 3 failed first tries. */
export function connect(): void {
  stopped = false;
  if (ws) return;
  const proto = location.protocol === "https:" ? "wss" : "ws";
  // The CSRF token rides along as on the console: this berthd's guard asks every cookie-
  // authenticated WebSocket for it (browsers cannot set headers on one).
  const q = new URLSearchParams({ types: "operation,lifecycle,metrics" });
  const token = csrfToken();
  if (token) q.set("csrf", token);
  const socket = new WebSocket(`${proto}://${location.host}/api/v1/events?${q}`);
  ws = socket;
  socket.onopen = () => {
    everOpened = true;
    failures = 0;
    setStatus("live");
  };
  socket.onmessage = (m) => {
    if (typeof m.data !== "string") return;
    let event: BerthEvent;
    try {
      event = JSON.parse(m.data) as BerthEvent;
    } catch {
      return;
    }
    listeners.forEach((f) => f(event));
  };
  socket.onclose = () => {
    ws = null;
    if (stopped) return;
    failures += 1;
    if (!everOpened && failures >= 3) {
      setStatus("unavailable");
      return;
    }
    setStatus("connecting");
    setTimeout(async () => {
      // The access cookie lasts 15 minutes: an API read renews it (one refresh) first.
      await get("/auth/me").catch(() => null);
      if (!stopped) connect();
    }, Math.min(30000, 500 * 2 ** Math.min(failures, 6)));
  };
}

export function disconnect(): void {
  stopped = true;
  ws?.close();
  ws = null;
}

/** Calls `f` for every event matching `filter`; returns the unsubscribe function. */
export function subscribe(filter: (e: BerthEvent) => boolean, f: Listener): () => void {
  const l: Listener = (e) => {
    if (filter(e)) f(e);
  };
  listeners.add(l);
  return () => listeners.delete(l);
}
