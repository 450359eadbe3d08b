//! Alerts: the caller's rules (an admin's: everyone's) with a form to add one, the alert
//! history, and for admins the test email (`/alerts/rules`, `/alerts/events`, `/alerts/test`).

import { ApiError, del, enc, get, post, type S } from "../../api";
import { h, mount, card, field, setFieldError, table, toast } from "../../dom";
import { isAdmin } from "../../session";

type Rule = S["AlertRule"];
type AlertEvent = S["AlertEvent"];

const METRICS: S["AlertMetric"][] = ["cpu_percent", "memory_percent", "disk_percent", "net_rx_bytes_per_s", "net_tx_bytes_per_s", "processes"];

function scopeText(scope: S["AlertScope"]): string {
  return scope.kind === "all" ? "all instances" : `${scope.kind} ${scope.value}`;
}

function when(unix: number): string {
  return new Date(unix * 1000).toLocaleString();
}

export async function alertsSection(box: HTMLElement): Promise<void> {
  const [rules, events] = await Promise.all([get<Rule[]>("/alerts/rules"), get<AlertEvent[]>("/alerts/events?limit=100")]);
  const reload = () => void alertsSection(box);
  const remove = (r: Rule) =>
    h(
      "button",
      {
        type: "button",
        class: "small danger",
        "aria-label": `Delete rule ${r.name}`,
        onclick: async () => {
          try {
            await del(`/alerts/rules/${enc(r.id)}`);
            toast("Rule deleted");
            reload();
          } catch (e) {
            toast(e instanceof ApiError ? e.message : String(e), "error");
          }
        },
      },
      "delete",
    );
  const ruleTable = table(
    "Alert rules",
    ["Name", "Condition", "For", "Scope", "Notify", "Owner", ""],
    rules.map((r) => [
      r.name,
      `${r.metric} ${r.comparison} ${r.threshold}`,
      `${r.for_seconds} s`,
      scopeText(r.scope),
      [r.email ? "email" : null, r.webhook ? "webhook" : null].filter(Boolean).join(", ") || "—",
      r.owner,
      remove(r),
    ]),
    "No rules.",
  );
  const history = table(
    "Alert history",
    ["When", "Rule", "Instance", "State", "Value", "Sent"],
    events.map((e) => [when(e.time), e.rule_name, e.instance, e.state, `${e.value.toFixed(1)} (${e.threshold})`, e.error ? `failed: ${e.error}` : e.notified ? "yes" : "throttled"]),
    "No alerts yet.",
  );
  mount(box, card("Alert rules", ruleTable, ruleForm(reload)), card("Alert history", history), isAdmin() ? testEmail() : null);
}

/** A form for a new rule; the daemon checks every field and the error lands under its control. */
function ruleForm(done: () => void): HTMLElement {
  const name = h("input", { name: "name", placeholder: "e.g. web1 busy" });
  const metric = h("select", { name: "metric" }, METRICS.map((m) => h("option", { value: m }, m)));
  const comparison = h("select", { name: "comparison" }, h("option", { value: ">" }, "above"), h("option", { value: "<" }, "below"));
  const threshold = h("input", { name: "threshold", type: "number", step: "any", value: "90", required: true });
  const forSeconds = h("input", { name: "for_seconds", type: "number", min: "0", value: "300" });
  const scopeKind = h("select", { name: "scope" }, h("option", { value: "all" }, "all my instances"), h("option", { value: "instance" }, "one instance"), h("option", { value: "user" }, "one user's instances"));
  const scopeValue = h("input", { name: "scope_value", placeholder: "instance name or username" });
  const webhook = h("input", { name: "webhook", type: "url", placeholder: "http://hooks.example/berth" });
  const email = h("input", { type: "checkbox", name: "email", checked: true });
  const controls: Record<string, HTMLElement> = { name, metric, comparison, threshold, for_seconds: forSeconds, scope: scopeValue, webhook };
  const err = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    { "aria-label": "New alert rule" },
    h("div", { class: "limits" }, field("Rule name", name), field("Metric", metric), field("When", comparison), field("Threshold", threshold), field("For (seconds)", forSeconds)),
    h("div", { class: "limits" }, field("Scope", scopeKind), field("Instance or user", scopeValue), field("Webhook (optional)", webhook)),
    h("label", { class: "check" }, email, " Email the owners"),
    err,
    h("button", { type: "submit" }, "Add rule"),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.textContent = "";
    Object.values(controls).forEach((c) => setFieldError(c, null));
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
    try {
      await post("/alerts/rules", body);
      toast("Rule added");
      done();
    } catch (e) {
      if (e instanceof ApiError && e.field) {
        const key = e.field.split(".")[0];
        const control = controls[key];
        if (control) setFieldError(control, e.message);
        else err.textContent = `${e.field}: ${e.message}`;
      } else {
        err.textContent = e instanceof ApiError ? e.message : String(e);
      }
    }
  });
  return h("details", {}, h("summary", {}, "Add a rule"), form);
}

/** Admins: send a test email through `[alerts.smtp]`; the SMTP server's error is shown as is. */
function testEmail(): HTMLElement {
  const to = h("input", { name: "email", type: "email", required: true, placeholder: "you@example.com" });
  const result = h("p", { role: "status" });
  const form = h("form", { "aria-label": "Test email" }, field("Send a test email to", to), result, h("button", { type: "submit" }, "Send test email"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    setFieldError(to, null);
    result.textContent = "Sending…";
    try {
      const answer = await post<S["AlertTestResult"]>("/alerts/test", { email: to.value.trim() });
      result.textContent = answer.sent ? "Sent." : `Not sent: ${answer.error ?? "unknown error"}`;
    } catch (e) {
      result.textContent = "";
      if (e instanceof ApiError && e.field === "email") setFieldError(to, e.message);
      else result.textContent = e instanceof ApiError ? e.message : String(e);
    }
  });
  return card("Test email", form);
}
