// The web UI in Debian's Chromium (headless, playwright-core, no downloaded browser) against a
// real berthd with the builtin runtime and real guests. Each numbered point of issue 17 has its
// assertions here (the outage in outage.test.mjs, the image library in images.test.mjs):
//  1. one store: state changed by the UI, the CLI, the API and `poweroff` inside the guest shows
//     the same in every view;
//  3. alert card and history show rule names, times and per-channel delivery; sizes in units;
//     each error once, at its field;
//  4. client checks come from the OpenAPI rules; limits bounded by the host and the quota;
//  5. restore and import (upload with progress), schedules, alert edit/disable/confirm, search,
//     sort, filter, usage and uptime, operations and audit entries, copy buttons;
//  6. polish: the Create link from the result screen, theme-coloured charts with round ticks
//     and current values, narrow tab strips, favicon, no console error on a cold load.
// Every page is run through axe-core in both themes and both widths, and saved as a screenshot
// in web/test-artifacts/ (or $BERTH_WEB_ARTIFACTS).
// The tour is in tests/ui/ (shared state in ui/context.mjs); its parts run in this order, in
// one process, against one berthd.

import "./ui/instance.mjs";
import "./ui/data.mjs";
import "./ui/account.mjs";
