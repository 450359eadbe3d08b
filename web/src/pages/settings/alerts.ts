//! Alerts: the caller's rules (an admin's: everyone's) with add, edit, enable/disable and
//! delete (confirmed); the alert history with what each notification did, per channel; and
//! for admins the test email. Choices (metrics, comparisons) and bounds come from the schema.

import { del, enc, get, message, patch, post, type S } from "../../api";
import { h, mount, card, field, setFieldError, table, toast, confirmDialog, when, badge, formError, showError, clearErrors } from "../../dom";
import { ENUMS, checkNumber, checkText, constrain } from "../../rules";
import { isAdmin } from "../../session";

type Rule = S["AlertRule"];
type AlertEvent = S["AlertEvent"];

const METRIC_TEXT: Record<string, string> = {
  cpu_percent: "CPU (% of one core)",
  memory_percent: "memory (% of the limit)",
  disk_percent: "disk (% of the limit)",
  net_rx_bytes_per_s: "network in (bytes/s)",
  net_tx_bytes_per_s: "network out (bytes/s)",
  processes: "processes",
};

function scopeText(scope: S["AlertScope"]): string {
  return scope.kind === "all" ? "all instances" : `${scope.kind} ${scope.value}`;
}

/** What became of an event's notifications, per channel. */
function delivery(e: AlertEvent): Node | string {
  if (!e.notified) return "not sent: throttled (notified recently)";
  if (!e.deliveries) return e.error ? `failed: ${e.error}` : "sending…";
  if (!e.deliveries.length) return "nothing sent: the rule has no channel (no email, no webhook)";
  return h(
    "ul",
    { class: "plain" },
    e.deliveries.map((d) =>
      h("li", {}, `${d.channel}${d.to ? ` to ${d.to}` : ""}: `, badge(d.status === "sent" ? "sent" : d.status === "failed" ? "failed" : "skipped"), d.detail ? ` ${d.detail}` : ""),
    ),
  );
}

export async function alertsSection(box: HTMLElement): Promise<void> {
  const [rules, events] = await Promise.all([get<Rule[]>("/alerts/rules"), get<AlertEvent[]>("/alerts/events?limit=100")]);
  const reload = () => void alertsSection(box).catch((e) => toast(message(e), "error"));
  const editBox = h("div");
  const remove = (r: Rule) =>
    h(
      "button",
      {
        type: "button",
        class: "small danger",
        "aria-label": `Delete rule ${r.name}`,
        onclick: async () => {
          if (!(await confirmDialog(`Delete the rule "${r.name}"?`, "It stops watching at once; its past alerts stay in the history.", "delete"))) return;
          try {
            await del(`/alerts/rules/${enc(r.id)}`);
            toast(`Rule ${r.name} deleted`);
            reload();
          } catch (e) {
            toast(message(e), "error");
          }
        },
      },
      "delete",
    );
  const toggle = (r: Rule) =>
    h(
      "button",
      {
        type: "button",
        class: "small",
        "aria-label": `${r.enabled ? "Disable" : "Enable"} rule ${r.name}`,
        onclick: async () => {
          try {
            await patch(`/alerts/rules/${enc(r.id)}`, { enabled: !r.enabled });
            toast(`Rule ${r.name} ${r.enabled ? "disabled" : "enabled"}`);
            reload();
          } catch (e) {
            toast(message(e), "error");
          }
        },
      },
      r.enabled ? "disable" : "enable",
    );
  const edit = (r: Rule) =>
    h(
      "button",
      {
        type: "button",
        class: "small",
        "aria-label": `Edit rule ${r.name}`,
        onclick: () => {
          mount(editBox, card(`Edit "${r.name}"`, ruleForm(reload, r, () => mount(editBox))));
          editBox.querySelector("input")?.focus();
        },
      },
      "edit",
    );
  const ruleTable = table(
    "Alert rules",
    ["Name", "Condition", "For", "Scope", "Notify", "Owner", "State", ""],
    rules.map((r) => [
      r.name,
      `${METRIC_TEXT[r.metric] ?? r.metric} ${r.comparison === ">" ? "above" : "below"} ${r.threshold}`,
      `${r.for_seconds} s`,
      scopeText(r.scope),
      [r.email ? "email" : null, r.webhook ? "webhook" : null].filter(Boolean).join(", ") || "nothing",
      r.owner,
      badge(r.enabled ? "enabled" : "disabled"),
      h("div", { class: "btns" }, edit(r), toggle(r), remove(r)),
    ]),
    "No rules.",
  );
  const history = table(
    "Alert history",
    ["When", "Rule", "Instance", "State", "Value", "Notifications"],
    events.map((e) => [when(e.time), e.rule_name, e.instance, badge(e.state), `${e.value.toFixed(1)} (threshold ${e.threshold})`, delivery(e)]),
    "No alerts yet.",
  );
  const add = h("details", {}, h("summary", {}, "Add a rule"), ruleForm(reload));
  mount(box, card("Alert rules", ruleTable, editBox, add), card("Alert history", history), isAdmin() ? testEmail() : null);
}

/** A form for a new rule, or to edit `rule`; the daemon checks every field again and its error
 *  lands under the field it names. */
function ruleForm(done: () => void, rule?: Rule, cancel?: () => void): HTMLElement {
  const schema = rule ? "AlertRulePatch" : "AlertRuleCreate";
  const name = h("input", { name: "name", placeholder: "e.g. web1 busy", value: rule?.name ?? "" });
  const metric = h("select", { name: "metric", disabled: !!rule }, ENUMS.AlertMetric.map((m) => h("option", { value: m, selected: m === rule?.metric }, METRIC_TEXT[m] ?? m)));
  const comparison = h("select", { name: "comparison" }, ENUMS.Comparison.map((c) => h("option", { value: c, selected: c === rule?.comparison }, c === ">" ? "above" : "below")));
  const threshold = h("input", { name: "threshold", type: "number", step: "any", value: rule?.threshold ?? 90, required: true });
  const forSeconds = h("input", { name: "for_seconds", type: "number", step: "1", value: rule?.for_seconds ?? 300 });
  constrain(forSeconds, `${schema}.for_seconds`);
  const scopeKind = h("select", { name: "scope", disabled: !!rule }, h("option", { value: "all" }, "all my instances"), h("option", { value: "instance" }, "one instance"), h("option", { value: "user" }, "one user's instances"));
  const scopeValue = h("input", { name: "scope_value", placeholder: "instance name or username", disabled: !!rule });
  if (rule) {
    scopeKind.value = rule.scope.kind;
    scopeValue.value = rule.scope.kind === "all" ? "" : rule.scope.value;
  }
  const webhook = h("input", { name: "webhook", type: "url", placeholder: "http://hooks.example/berth", value: rule?.webhook ?? "" });
  const email = h("input", { type: "checkbox", name: "email", checked: rule ? rule.email : true });
  const controls: Record<string, HTMLElement> = { name, metric, comparison, threshold, for_seconds: forSeconds, "scope.value": scopeValue, scope: scopeKind, webhook };
  const err = formError();
  name.addEventListener("input", () => setFieldError(name, checkText(`${schema}.name`, name.value.trim())));
  forSeconds.addEventListener("input", () => setFieldError(forSeconds, checkNumber(`${schema}.for_seconds`, forSeconds.value)));
  const form = h(
    "form",
    { "aria-label": rule ? `Edit alert rule ${rule.name}` : "New alert rule", novalidate: true },
    h("div", { class: "limits" }, field("Rule name", name), field("Metric", metric), field("When", comparison), field("Threshold", threshold), field("For (seconds)", forSeconds)),
    h("div", { class: "limits" }, field("Scope", scopeKind), field("Instance or user", scopeValue), field("Webhook (optional)", webhook)),
    h("label", { class: "check" }, email, " Email the owners"),
    err,
    h("div", { class: "btns" }, h("button", { type: "submit" }, rule ? "Save rule" : "Add rule"), cancel ? h("button", { type: "button", onclick: cancel }, "Cancel") : null),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const problems: [HTMLElement, string | null][] = [
      [name, checkText(`${schema}.name`, name.value.trim())],
      [forSeconds, checkNumber(`${schema}.for_seconds`, forSeconds.value)],
      [threshold, threshold.value.trim() === "" || !Number.isFinite(Number(threshold.value)) ? "give a number" : null],
    ];
    problems.forEach(([c, p]) => setFieldError(c, p));
    const first = problems.find(([, p]) => p);
    if (first) return first[0].focus();
    try {
      if (rule) {
        const body: S["AlertRulePatch"] = {
          name: name.value.trim(),
          comparison: comparison.value as S["Comparison"],
          threshold: Number(threshold.value),
          for_seconds: Number(forSeconds.value),
          webhook: webhook.value.trim(),
          email: email.checked,
        };
        await patch(`/alerts/rules/${enc(rule.id)}`, body);
        toast(`Rule ${body.name} saved`);
      } else {
        const scope: S["AlertScope"] = scopeKind.value === "all" ? { kind: "all" } : { kind: scopeKind.value as "instance" | "user", value: scopeValue.value.trim() };
        const body: S["AlertRuleCreate"] = {
          name: name.value.trim() || null,
          metric: metric.value as S["AlertMetric"],
          comparison: comparison.value as S["Comparison"],
          threshold: Number(threshold.value),
          for_seconds: Number(forSeconds.value),
          scope,
          webhook: webhook.value.trim() || null,
          email: email.checked,
        };
        await post("/alerts/rules", body);
        toast("Rule added");
      }
      done();
    } catch (e) {
      showError(e, controls, err);
    }
  });
  return form;
}

/** Admins: send a test email through `[alerts.smtp]`; the SMTP server's error is shown as is. */
function testEmail(): HTMLElement {
  const to = h("input", { name: "email", type: "email", required: true, placeholder: "you@example.com" });
  const result = h("p", { role: "status" });
  const form = h("form", { "aria-label": "Test email", novalidate: true }, field("Send a test email to", to), result, h("button", { type: "submit" }, "Send test email"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    setFieldError(to, null);
    result.textContent = "Sending…";
    try {
      const answer = await post<S["AlertTestResult"]>("/alerts/test", { email: to.value.trim() });
      result.textContent = answer.sent ? "Sent." : `Not sent: ${answer.error ?? "unknown error"}`;
    } catch (e) {
      result.textContent = "";
      showError(e, { email: to, "alerts.smtp": to }, result);
    }
  });
  return card("Test email", form);
}
