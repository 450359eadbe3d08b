//! The one client-side copy of what the pages show about instances and operations. Lifecycle,
//! operation and metrics events update it; reads (`loadInstances`, `loadInstance`) fill it;
//! every view renders from it and re-renders when it changes (`watch`). No page keeps its own
//! copy of an instance, so the header badge, the details, the list and the dashboard always
//! agree.

import { ApiError, enc, get, type Instance, type Operation } from "./api";
import type { BerthEvent, MetricsPoint } from "./contracts";
import { onReconnect, subscribe, touched } from "./link";

const instances = new Map<string, Instance>();
const operations = new Map<string, Operation>();
const usage = new Map<string, MetricsPoint>();
/** Names deleted while a page still shows them. */
const gone = new Set<string>();
let listLoaded = false;
/** What changed: views watch only what they show (a metrics sample redraws no table). */
export type Topic = "instances" | "operations" | "usage";
const watchers = new Map<() => void, Set<Topic>>();
const dirty = new Set<Topic>();
let scheduled = false;

/** Re-renders the watchers of what changed, once per frame however many changes came. */
function changed(topic: Topic = "instances"): void {
  dirty.add(topic);
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    const topics = new Set(dirty);
    dirty.clear();
    watchers.forEach((wants, f) => {
      if (![...wants].some((t) => topics.has(t))) return;
      try {
        keepFocus(f);
      } catch (e) {
        console.warn("a view failed to re-render", e);
      }
    });
  });
}

/** Runs a redraw and puts the focus back on the control that had it (same label, same place). */
function keepFocus(redraw: () => void): void {
  const active = document.activeElement as HTMLElement | null;
  const key = active?.getAttribute("aria-label") ?? active?.id;
  const tag = active?.tagName;
  redraw();
  if (!active || !key || document.contains(active)) return;
  const again = [...document.querySelectorAll<HTMLElement>(tag ?? "*")].find((el) => (el.getAttribute("aria-label") ?? el.id) === key);
  again?.focus({ preventScroll: true });
}

/** Calls `f` after every change of `topics` (default: instances and operations). */
export function watch(f: () => void, topics: Topic[] = ["instances", "operations"]): () => void {
  watchers.set(f, new Set(topics));
  return () => watchers.delete(f);
}

export function instance(name: string): Instance | undefined {
  return instances.get(name);
}

export function isGone(name: string): boolean {
  return gone.has(name);
}

/** Every instance this user sees, by name. */
export function allInstances(): Instance[] {
  return [...instances.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export function listIsLoaded(): boolean {
  return listLoaded;
}

/** The latest live sample of an instance (from `metrics` events), if any came. */
export function latestUsage(name: string): MetricsPoint | undefined {
  return usage.get(name);
}

export function allOperations(): Operation[] {
  return [...operations.values()].sort((a, b) => b.created_at.localeCompare(a.created_at));
}

export function operation(id: string): Operation | undefined {
  return operations.get(id);
}

function put(i: Instance): void {
  instances.set(i.name, i);
  gone.delete(i.name);
}

/** Reads the whole list (the list, dashboard and network pages). */
export async function loadInstances(): Promise<Instance[]> {
  const list = await get<Instance[]>("/instances");
  const names = new Set(list.map((i) => i.name));
  for (const name of instances.keys()) if (!names.has(name)) instances.delete(name);
  list.forEach(put);
  listLoaded = true;
  touched();
  changed();
  return allInstances();
}

/** Reads one instance; `undefined` when it does not exist (or is not this user's). */
export async function loadInstance(name: string): Promise<Instance | undefined> {
  try {
    put(await get<Instance>(`/instances/${enc(name)}`));
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      if (instances.delete(name)) gone.add(name);
      changed();
      return undefined;
    }
    throw e;
  }
  touched();
  changed();
  return instances.get(name);
}

/** Reads the recent operations (dashboard, activity). */
export async function loadOperations(): Promise<Operation[]> {
  const list = await get<Operation[]>("/operations");
  operations.clear();
  list.forEach((o) => operations.set(o.id, o));
  changed("operations");
  return allOperations();
}

/** An operation as the caller just got it (a 202 answer). */
export function noteOperation(op: Operation): void {
  operations.set(op.id, op);
  changed("operations");
}

/** The operation running on an instance now, if any. */
export function runningOn(name: string): Operation | undefined {
  return allOperations().find((o) => o.target === name && (o.status === "running" || o.status === "pending"));
}

// Re-reading an instance after a change is coalesced: a burst of events costs one read.
const pending = new Map<string, number>();
function reread(name: string): void {
  clearTimeout(pending.get(name));
  pending.set(
    name,
    window.setTimeout(() => {
      pending.delete(name);
      // Not one we saw deleted: reading it would only be a 404 (a console error).
      if (!gone.has(name) && (instances.has(name) || listLoaded)) loadInstance(name).catch(() => {});
    }, 120),
  );
}

function onLifecycle(e: BerthEvent): void {
  const name = e.instance;
  if (!name) return;
  const data = e.data as { action?: string; state?: Instance["state"] | null };
  if (data.action === "instance-deleted") {
    clearTimeout(pending.get(name));
    pending.delete(name);
    instances.delete(name);
    gone.add(name);
    usage.delete(name);
    changed();
    return;
  }
  const known = instances.get(name);
  if (known && data.state) {
    // The state is in the event: show it at once, then read the rest (addresses, pid, …).
    instances.set(name, { ...known, state: data.state, started_at: data.state === "running" ? known.started_at : null });
    changed();
  }
  reread(name);
}

function onOperation(e: BerthEvent): void {
  const data = e.data as Partial<Operation> & { id?: string };
  if (!data.id) return;
  const before = operations.get(data.id);
  const next = { ...(before ?? {}), ...data, steps: data.steps ?? before?.steps ?? [] } as Operation;
  operations.set(data.id, next);
  changed("operations");
  // An instance's operation that ended may have changed it (an import or a failed start).
  if (e.instance && ["success", "failure", "cancelled"].includes(String(next.status))) reread(e.instance);
}

function onMetrics(e: BerthEvent): void {
  // The host's samples (admins get them) have no instance: kept under "".
  usage.set(e.instance ?? "", e.data as unknown as MetricsPoint);
  changed("usage");
}

subscribe(
  () => true,
  (e) => {
    if (e.type === "lifecycle") onLifecycle(e);
    else if (e.type === "operation") onOperation(e);
    else if (e.type === "metrics") onMetrics(e);
  },
);

/** After an outage everything is read again: events may have been missed. */
onReconnect(() => {
  if (listLoaded) loadInstances().catch(() => {});
  else for (const name of instances.keys()) loadInstance(name).catch(() => {});
  if (operations.size) loadOperations().catch(() => {});
});

/** A remote backend (proxmox) sends no events when its node stops answering or changes behind
 *  Berth's back: while the store holds such instances, their rows are read again every
 *  REMOTE_REREAD_MS (while the page is visible), so a stale mark — and the remote banner —
 *  comes and goes by itself. */
const REMOTE_REREAD_MS = 10_000;
window.setInterval(() => {
  if (document.visibilityState !== "visible") return;
  const remote = allInstances().filter((i) => i.cache != null);
  if (!remote.length) return;
  if (listLoaded) loadInstances().catch(() => {});
  else for (const i of remote) loadInstance(i.name).catch(() => {});
}, REMOTE_REREAD_MS);

/** Forget everything (sign-out). */
export function clear(): void {
  instances.clear();
  operations.clear();
  usage.clear();
  gone.clear();
  listLoaded = false;
  changed("instances");
  changed("operations");
  changed("usage");
}
