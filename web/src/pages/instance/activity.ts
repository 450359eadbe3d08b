//! The activity tab: this instance's operations (newest first) from the store, each with its
//! steps, times and failure reason, and Cancel while one can be cancelled.

import { mount } from "../../dom";
import { operationRows } from "../../oplist";
import { allOperations, loadOperations, watch } from "../../store";

export async function activityTab(box: HTMLElement, name: string): Promise<() => void> {
  await loadOperations();
  const draw = () => mount(box, operationRows(allOperations().filter((o) => o.target === name)));
  draw();
  return watch(draw, ["operations"]);
}
