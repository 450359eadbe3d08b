//! Following an operation to its end: its events update the store, which calls back here;
//! it is read once at the start (it may have ended before the events were subscribed) and
//! again after an outage. Cancelling asks `DELETE /operations/{id}`.

import { del, enc, get, message, type Operation } from "./api";
import { confirmDialog, h, toast } from "./dom";
import { onReconnect } from "./link";
import { noteOperation, operation, watch } from "./store";

const ENDED = new Set(["success", "failure", "cancelled"]);

export function ended(op: Operation): boolean {
  return ENDED.has(op.status);
}

/** Calls `update` with each new state of the operation; resolves with the ended operation. */
export function follow(op: Operation, update: (op: Operation) => void = () => {}): Promise<Operation> {
  noteOperation(op);
  update(op);
  if (ended(op)) return Promise.resolve(op);
  return new Promise((resolve) => {
    let last = op;
    const check = () => {
      const now = operation(op.id);
      if (!now || now === last) return;
      last = now;
      update(now);
      if (ended(now)) {
        unwatch();
        offReconnect();
        resolve(now);
      }
    };
    const unwatch = watch(check);
    const read = () =>
      get<Operation>(`/operations/${enc(op.id)}`)
        .then((o) => {
          noteOperation({ ...(operation(op.id) ?? {}), ...o });
          check();
        })
        .catch(() => {});
    const offReconnect = onReconnect(read);
    void read();
  });
}

/** A Cancel button for a running operation that can be cancelled. */
export function cancelButton(op: Operation, label = op.kind.replace(/^instance_|^image_/, "").replace(/_/g, " ")): HTMLButtonElement {
  const b = h("button", { type: "button", class: "small danger", "aria-label": `Cancel ${label} of ${op.target}`, "data-cancel": op.id }, "Cancel");
  b.addEventListener("click", async () => {
    if (!(await confirmDialog(`Cancel ${label} of ${op.target}?`, "It stops at its next step and undoes what it did so far.", "cancel it"))) return;
    b.disabled = true;
    try {
      await del(`/operations/${enc(op.id)}`);
      toast(`Cancelling ${label} of ${op.target}…`);
    } catch (e) {
      toast(`Could not cancel: ${message(e)}`, "error");
      b.disabled = false;
    }
  });
  return b;
}
