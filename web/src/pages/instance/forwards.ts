//! The port-forwards tab: this instance's forwards with add and delete (shared with the
//! Network page, which adds an instance picker).

import type { Instance } from "../../api";
import { forwardsEditor } from "../../forwards";

export async function forwardsTab(box: HTMLElement, inst: Instance): Promise<void> {
  await forwardsEditor(box, [inst.name]);
}
