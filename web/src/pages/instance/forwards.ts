//! The port-forwards tab: this instance's forwards with add and delete (shared with the
//! Network page, which adds an instance picker).

import { forwardsEditor } from "../../forwards";

export async function forwardsTab(box: HTMLElement, name: string): Promise<void> {
  await forwardsEditor(box, [name]);
}
