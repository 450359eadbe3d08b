//! The overview tab, from the store: details (state, addresses, uptime), usage now (CPU,
//! memory, disk, network from the live samples), limits and autostart (PATCH, checked by the
//! schema's rules and bounded by the host), and the root password (set or generate; a
//! generated one has a copy button).

import { enc, get, patch, post, type Instance, type S } from "../../api";
import { h, mount, card, field, setFieldError, bytes, when, toast, clearErrors, copyButton, duration, formError, showError, usageBar, GiB, MiB } from "../../dom";
import type { MetricsAnswer, MetricsPoint } from "../../contracts";
import { checkNumber, checkText, constrain, inGiB, inMiB, type NumberCheck } from "../../rules";
import { instance, latestUsage, watch } from "../../store";

function facts(inst: Instance): HTMLElement {
  const n = inst.network;
  const uptime = inst.state === "running" && inst.started_at ? h("span", { "data-started": inst.started_at }, duration((Date.now() - new Date(inst.started_at).getTime()) / 1000)) : "—";
  const rows: [string, Node | string, boolean?][] = [
    ["State", h("span", { "data-testid": "details-state" }, inst.state)],
    ["Uptime", uptime],
    ["Image", inst.image],
    ["Backend", inst.backend + (inst.vmid == null && inst.node && inst.node !== "local" ? ` (node ${inst.node})` : "")],
    ...(inst.vmid != null ? [["Node", h("span", { "data-testid": "details-node" }, inst.node)], ["VMID", h("span", { "data-testid": "details-vmid" }, String(inst.vmid))]] as [string, Node | string][] : []),
    ["Owner", inst.owner],
    ["IPv4", n.ipv4 ?? "—", true],
    ["IPv6", n.ipv6 ?? "—", true],
    ["MAC", n.mac ?? "—", true],
    ["SSH", n.ipv4 ? h("span", {}, h("code", {}, `ssh root@${n.ipv4}`), " ", copyButton("the SSH command", () => `ssh root@${n.ipv4}`)) : "—"],
    ["Limits", [inst.limits.cpu ? `${inst.limits.cpu} CPU` : "CPU unlimited", inst.limits.memory ? `${bytes(inst.limits.memory)} memory` : "memory unlimited", inst.limits.disk ? `${bytes(inst.limits.disk)} disk` : "disk unlimited", inst.limits.processes ? `${inst.limits.processes} processes` : null].filter(Boolean).join(" · ")],
    ["Autostart", inst.autostart ? "yes" : "no"],
    ["Created", when(inst.created_at)],
  ];
  return h("dl", { class: "facts", "data-testid": "details" }, rows.flatMap(([k, v, mono]) => [h("dt", {}, k), h("dd", { class: mono ? "mono" : null, "data-fact": k }, v)]));
}

function usageNow(inst: Instance, p: MetricsPoint | undefined): HTMLElement {
  if (inst.state !== "running") return h("p", { class: "muted" }, `${inst.name} is ${inst.state}: no usage.`);
  if (!p) return h("p", { class: "muted" }, "Waiting for the first sample (every few seconds)…");
  const cores = inst.limits.cpu ?? null;
  return h(
    "div",
    { "data-testid": "usage-now" },
    usageBar("CPU", p.cpu_percent ?? 0, cores ? cores * 100 : null, (v) => `${Math.round(v ?? 0)} %`),
    usageBar("Memory", p.memory_bytes ?? 0, p.memory_limit_bytes ?? inst.limits.memory ?? null),
    usageBar("Disk", p.disk_bytes ?? 0, p.disk_limit_bytes ?? inst.limits.disk ?? null),
    h("p", { class: "muted" }, `Network: ${bytes(p.net_rx_bytes_per_s ?? 0)}/s in, ${bytes(p.net_tx_bytes_per_s ?? 0)}/s out · ${p.processes ?? "?"} processes · sampled ${new Date(p.time * 1000).toLocaleTimeString()}`),
  );
}

export async function overviewTab(box: HTMLElement, name: string): Promise<() => void> {
  const sys = await get<S["SystemInfo"]>("/system");
  // The last sample from the history, until a live one comes.
  const history = await get<MetricsAnswer>(`/instances/${enc(name)}/metrics?timeframe=hour&cf=avg`).catch(() => null);
  const fromHistory = history?.points.filter((p) => p.memory_bytes !== null).at(-1);
  const detailsBox = h("div");
  const usageBox = h("div", { "aria-live": "off" });

  const inst0 = instance(name);
  if (!inst0) return () => {};
  const hostMem = [{ value: sys.memory, why: `the host's ${bytes(sys.memory)} of memory` }];
  const checks: Record<string, [string, NumberCheck]> = {
    cpu: ["Limits.cpu", { max: [{ value: sys.cpus, why: `the host's ${sys.cpus} CPUs` }] }],
    memory: ["Limits.memory", { ...inMiB, max: hostMem }],
    disk: ["Limits.disk", inGiB],
    processes: ["Limits.processes", {}],
  };
  const input = (key: string, step: string) => {
    const el = h("input", { type: "number", step, name: key, inputmode: "decimal" });
    constrain(el, ...checks[key]);
    el.addEventListener("input", () => {
      dirty = true;
      setFieldError(el, checkNumber(checks[key][0], el.value, checks[key][1]));
    });
    return el;
  };
  let dirty = false;
  const cpu = input("cpu", "any");
  const mem = input("memory", "64");
  const disk = input("disk", "any");
  const procs = input("processes", "1");
  const auto = h("input", { type: "checkbox", name: "autostart" });
  auto.addEventListener("change", () => (dirty = true));
  const memHint = h("span");
  const diskHint = h("span");
  const limitsErr = formError();
  const limits = h(
    "form",
    { class: "limits-form", "aria-label": "Limits", novalidate: true },
    h("div", { class: "limits" }, field("CPU (cores)", cpu, `the host has ${sys.cpus}`), field("Memory (MiB)", mem, memHint), field("Disk (GiB)", disk, diskHint), field("Processes", procs)),
    h("label", { class: "check" }, auto, " Start when the host boots (autostart)"),
    limitsErr,
    h("button", { type: "submit" }, "Save limits"),
  );
  /** The form shows the stored limits unless the user is editing them. */
  const fill = (inst: Instance) => {
    memHint.textContent = `now ${bytes(inst.limits.memory)}`;
    diskHint.textContent = `now ${bytes(inst.limits.disk)}`;
    if (dirty) return;
    cpu.value = inst.limits.cpu?.toString() ?? "";
    mem.value = inst.limits.memory ? String(Math.round(inst.limits.memory / MiB)) : "";
    disk.value = inst.limits.disk ? String(+(inst.limits.disk / GiB).toFixed(2)) : "";
    procs.value = inst.limits.processes?.toString() ?? "";
    auto.checked = inst.autostart;
  };
  limits.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(limits);
    const problems: [HTMLInputElement, string | null][] = (
      [
        [cpu, "cpu"],
        [mem, "memory"],
        [disk, "disk"],
        [procs, "processes"],
      ] as const
    ).map(([el, key]) => [el, checkNumber(checks[key][0], el.value, checks[key][1])]);
    problems.forEach(([el, p]) => setFieldError(el, p));
    const first = problems.find(([, p]) => p);
    if (first) return first[0].focus();
    const body: S["PatchInstanceRequest"] = {
      autostart: auto.checked,
      limits: {
        cpu: cpu.value ? Number(cpu.value) : null,
        memory: mem.value ? Math.round(Number(mem.value) * MiB) : null,
        disk: disk.value ? Math.round(Number(disk.value) * GiB) : null,
        processes: procs.value ? Number(procs.value) : null,
      },
    };
    try {
      await patch(`/instances/${enc(name)}`, body);
      dirty = false;
      toast("Limits saved");
    } catch (e) {
      showError(e, { "limits.cpu": cpu, "limits.memory": mem, "limits.disk": disk, "limits.processes": procs, autostart: auto }, limitsErr);
    }
  });

  const pw = h("input", { type: "password", name: "new-root-password", autocomplete: "new-password" });
  const pwOut = h("div", { "aria-live": "polite" });
  const pwErr = formError();
  const setPw = async (body: S["PasswordRequest"]) => {
    setFieldError(pw, null);
    pwErr.textContent = "";
    mount(pwOut);
    try {
      const r = await post<S["PasswordResponse"]>(`/instances/${enc(name)}/password`, body);
      pw.value = "";
      if (r.password) {
        const secret = r.password;
        mount(pwOut, h("div", { class: "secret" }, h("p", {}, "New root password (shown once):"), h("div", { class: "row" }, h("code", { class: "mono", "data-testid": "new-password" }, secret), copyButton("the root password", () => secret))));
      } else mount(pwOut, h("p", { class: "ok" }, "Root password changed."));
    } catch (e) {
      showError(e, { password: pw }, pwErr);
    }
  };
  const pwForm = h(
    "form",
    { "aria-label": "Root password", novalidate: true },
    field("New root password", pw),
    pwErr,
    h("div", { class: "btns" }, h("button", { type: "submit" }, "Set password"), h("button", { type: "button", onclick: () => void setPw({ generate: true }) }, "Generate one")),
    pwOut,
  );
  pw.addEventListener("input", () => setFieldError(pw, checkText("PasswordRequest.password", pw.value, "contains a control character; leave them out")));
  pwForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!pw.value) return setFieldError(pw, "type a password, or use Generate one");
    const problem = checkText("PasswordRequest.password", pw.value, "contains a control character; leave them out");
    if (problem) return setFieldError(pw, problem);
    void setPw({ password: pw.value });
  });

  const draw = () => {
    const inst = instance(name);
    if (!inst) return;
    mount(detailsBox, facts(inst));
    fill(inst);
  };
  const drawUsage = () => {
    const inst = instance(name);
    if (inst) mount(usageBox, usageNow(inst, latestUsage(name) ?? fromHistory));
  };
  mount(box, h("div", { class: "grid" }, card("Details", detailsBox), card("Usage now", usageBox), card("Limits", limits), card("Root password", pwForm)));
  draw();
  drawUsage();
  // The uptime counts on by itself.
  const timer = window.setInterval(() => {
    const el = detailsBox.querySelector<HTMLElement>("[data-started]");
    if (el?.dataset.started) el.textContent = duration((Date.now() - new Date(el.dataset.started).getTime()) / 1000);
  }, 1000);
  const unwatch = watch(() => {
    draw();
    drawUsage();
  });
  const unwatchUsage = watch(drawUsage, ["usage"]);
  return () => {
    clearInterval(timer);
    unwatch();
    unwatchUsage();
  };
}
