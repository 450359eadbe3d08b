//! The page's side of the link to berthd (the connection itself lives in link.worker.ts):
//! whether the daemon is reachable, since when and when the next try is; the live events,
//! fanned out to subscribers; and `reconnected` listeners, which refresh what they show once
//! the stream is back after an outage.

import { csrfToken, linkHooks, refreshSession } from "./api";
import type { BerthEvent } from "./contracts";

export type LinkState = "connecting" | "up" | "down";

export interface Link {
  state: LinkState;
  /** When the current state began (ms). */
  since: number;
  /** Why it is down. */
  reason: string;
  /** When the worker tries again (ms), while down. */
  retryAt: number;
  /** The last moment the data on screen was known to be current (ms). */
  syncedAt: number;
}

type Listener = (e: BerthEvent) => void;

let worker: Worker | null = null;
const link: Link = { state: "connecting", since: Date.now(), reason: "", retryAt: 0, syncedAt: Date.now() };
const statusListeners = new Set<(l: Link) => void>();
const eventListeners = new Set<Listener>();
const reconnectListeners = new Set<() => void>();
let wasDown = false;
let onSignedOut: () => void = () => {};

export function current(): Link {
  return link;
}

export function isUp(): boolean {
  return link.state !== "down";
}

function set(next: Partial<Link>): void {
  const changed = next.state !== undefined && next.state !== link.state;
  Object.assign(link, next);
  if (changed) link.since = Date.now();
  statusListeners.forEach((f) => f(link));
}

/** Calls `f` now and on every change of the link. */
export function onLink(f: (l: Link) => void): () => void {
  statusListeners.add(f);
  f(link);
  return () => statusListeners.delete(f);
}

/** Calls `f` whenever the stream comes back after being down (not on the first connect). */
export function onReconnect(f: () => void): () => void {
  reconnectListeners.add(f);
  return () => reconnectListeners.delete(f);
}

/** Calls `f` for every event matching `filter`; returns the unsubscribe function. */
export function subscribe(filter: (e: BerthEvent) => boolean, f: Listener): () => void {
  const l: Listener = (e) => {
    if (filter(e)) f(e);
  };
  eventListeners.add(l);
  return () => eventListeners.delete(l);
}

/** Data just read from the daemon is current. */
export function touched(): void {
  if (link.state !== "down") link.syncedAt = Date.now();
}

/** An API call found the daemon gone: the worker checks now (and reports down if so). */
function lost(): void {
  worker?.postMessage({ retry: true });
}

linkHooks(isUp, lost);

function connectMessage() {
  return { connect: { csrf: csrfToken() } };
}

/** Starts the link after sign-in; `signedOut` runs when the session cannot be renewed. */
export function startLink(signedOut: () => void): void {
  onSignedOut = signedOut;
  if (!worker) {
    worker = new Worker("/assets/link-worker.js", { type: "module", name: "berth-link" });
    worker.onmessage = (m: MessageEvent) => void onWorker(m.data);
    window.addEventListener("offline", () => worker?.postMessage({ offline: true }));
    window.addEventListener("online", () => worker?.postMessage({ offline: false }));
  }
  if (!navigator.onLine) worker.postMessage({ offline: true });
  worker.postMessage(connectMessage());
}

export function stopLink(): void {
  worker?.postMessage({ stop: true });
  set({ state: "connecting" });
}

/** Asks the worker to try again now (the banner's "Retry now"). */
export function retryNow(): void {
  worker?.postMessage({ retry: true });
}

async function onWorker(msg: { up?: true; down?: { reason: string; retryAt: number }; event?: string; auth?: true }): Promise<void> {
  if (msg.up) {
    const back = wasDown;
    wasDown = false;
    set({ state: "up", reason: "", retryAt: 0, syncedAt: Date.now() });
    if (back) reconnectListeners.forEach((f) => f());
  } else if (msg.down) {
    wasDown = true;
    set({ state: "down", reason: msg.down.reason, retryAt: msg.down.retryAt });
  } else if (msg.auth) {
    if (await refreshSession()) worker?.postMessage(connectMessage());
    else onSignedOut();
  } else if (msg.event) {
    let event: BerthEvent;
    try {
      event = JSON.parse(msg.event) as BerthEvent;
    } catch {
      return;
    }
    link.syncedAt = Date.now();
    eventListeners.forEach((f) => f(event));
  }
}
