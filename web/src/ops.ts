//! Following an operation to its end: from the event stream when it is live, otherwise by
//! reading `GET /operations/{id}` every half second until it ends (bounded by the operation).

import { get, enc, type Operation } from "./api";
import { streamStatus, subscribe } from "./events";

const ENDED = new Set(["success", "failure", "cancelled"]);

export function ended(op: Operation): boolean {
  return ENDED.has(op.status);
}

/** Calls `update` with each new state of the operation; resolves with the ended operation. */
export function follow(op: Operation, update: (op: Operation) => void = () => {}): Promise<Operation> {
  update(op);
  if (ended(op)) return Promise.resolve(op);
  return new Promise((resolve) => {
    let done = false;
    let last = op;
    const finish = (next: Partial<Operation>) => {
      if (done) return;
      // An event may carry only what changed: keep the rest (steps, kind, …) from before.
      const o: Operation = { ...last, ...next, steps: next.steps ?? last.steps };
      last = o;
      update(o);
      if (ended(o)) {
        done = true;
        unsub();
        resolve(o);
      }
    };
    const unsub = subscribe(
      (e) => e.type === "operation" && (e.data as { id?: string }).id === op.id,
      (e) => finish(e.data as Partial<Operation>),
    );
    // Read it once in any case (it may have ended before we subscribed), and keep reading
    // while the stream is not live.
    const tick = async () => {
      if (done) return;
      try {
        finish(await get<Operation>(`/operations/${enc(op.id)}`));
      } catch {
        /* a transient error: try again */
      }
      if (!done) setTimeout(tick, streamStatus() === "live" ? 5000 : 500);
    };
    void tick();
  });
}
