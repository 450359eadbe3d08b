//! Settings: system and storage, my account (password, API tokens), defaults; for admins
//! users and quotas, alerts and the audit log. Sections live in the URL: `#/settings/users`.

import { h, mount } from "../../dom";
import { isAdmin } from "../../session";
import { systemSection } from "./system";
import { accountSection } from "./account";
import { defaultsSection } from "./defaults";
import { usersSection } from "./users";
import { alertsSection } from "./alerts";
import { auditSection } from "./audit";

type Section = (box: HTMLElement) => Promise<void> | void;

export async function settingsPage(main: HTMLElement, params: string[]): Promise<void> {
  const sections: [string, string, Section, boolean][] = [
    ["", "System", systemSection, false],
    ["account", "My account", accountSection, false],
    ["defaults", "Defaults", defaultsSection, false],
    ["users", "Users & quotas", usersSection, true],
    ["alerts", "Alerts", alertsSection, false],
    ["audit", "Audit log", auditSection, false],
  ];
  const visible = sections.filter(([, , , admin]) => !admin || isAdmin());
  const id = params[0] ?? "";
  const box = h("div", { class: "tab-body" });
  mount(
    main,
    h("h1", {}, "Settings"),
    h("nav", { class: "tabs", "aria-label": "Settings sections" }, visible.map(([sid, label]) => h("a", { href: sid ? `#/settings/${sid}` : "#/settings", "aria-current": sid === id ? "page" : null }, label))),
    box,
  );
  const section = visible.find(([sid]) => sid === id) ?? visible[0];
  await section[2](box);
}
