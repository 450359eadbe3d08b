//! The overview tab: addresses and details, limits and autostart (PATCH), and the root
//! password (set or generate).

import { ApiError, enc, patch, post, type Instance, type S } from "../../api";
import { h, mount, card, field, setFieldError, bytes, when, toast, GiB, MiB } from "../../dom";

export function overviewTab(box: HTMLElement, inst: Instance, refresh: () => Promise<void>): void {
  const n = inst.network;
  const info = h(
    "dl",
    { class: "facts" },
    ...[
      ["State", inst.state],
      ["Image", inst.image],
      ["Backend", inst.backend],
      ["Owner", inst.owner],
      ["IPv4", n.ipv4 ?? "—"],
      ["IPv6", n.ipv6 ?? "—"],
      ["MAC", n.mac ?? "—"],
      ["SSH", n.ipv4 ? `ssh root@${n.ipv4}` : "—"],
      ["Created", when(inst.created_at)],
    ].flatMap(([k, v]) => [h("dt", {}, k), h("dd", { class: k === "IPv4" || k === "IPv6" || k === "SSH" || k === "MAC" ? "mono" : "" }, v)]),
  );

  const cpu = h("input", { type: "number", min: 0.01, step: "any", value: inst.limits.cpu ?? "", name: "cpu" });
  const mem = h("input", { type: "number", min: 16, step: 1, value: inst.limits.memory ? Math.round(inst.limits.memory / MiB) : "", name: "memory" });
  const disk = h("input", { type: "number", min: 1, step: 1, value: inst.limits.disk ? Math.round(inst.limits.disk / GiB) : "", name: "disk" });
  const procs = h("input", { type: "number", min: 16, step: 1, value: inst.limits.processes ?? "", name: "processes" });
  const auto = h("input", { type: "checkbox", checked: inst.autostart, name: "autostart" });
  const limitsErr = h("p", { class: "error", role: "alert" });
  const limits = h(
    "form",
    { class: "limits-form" },
    h("div", { class: "limits" }, field("CPU (cores)", cpu), field("Memory (MiB)", mem, bytes(inst.limits.memory)), field("Disk (GiB)", disk, bytes(inst.limits.disk)), field("Processes", procs)),
    h("label", { class: "check" }, auto, " Start when the host boots (autostart)"),
    limitsErr,
    h("button", { type: "submit" }, "Save limits"),
  );
  limits.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    limitsErr.textContent = "";
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
      await patch(`/instances/${enc(inst.name)}`, body);
      toast("Limits saved");
      await refresh();
    } catch (e) {
      limitsErr.textContent = e instanceof ApiError ? e.message : String(e);
    }
  });

  const pw = h("input", { type: "password", name: "new-root-password", autocomplete: "new-password" });
  const pwOut = h("div", { "aria-live": "polite" });
  const setPw = async (body: S["PasswordRequest"]) => {
    setFieldError(pw, null);
    mount(pwOut);
    try {
      const r = await post<S["PasswordResponse"]>(`/instances/${enc(inst.name)}/password`, body);
      pw.value = "";
      if (r.password) mount(pwOut, h("p", {}, "New root password (shown once): ", h("code", { class: "mono", "data-testid": "new-password" }, r.password)));
      else mount(pwOut, h("p", { class: "ok" }, "Root password changed."));
    } catch (e) {
      setFieldError(pw, e instanceof ApiError ? e.message : String(e));
    }
  };
  const pwForm = h(
    "form",
    {},
    field("New root password", pw),
    h("div", { class: "btns" }, h("button", { type: "submit" }, "Set password"), h("button", { type: "button", onclick: () => void setPw({ generate: true }) }, "Generate one")),
    pwOut,
  );
  pwForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!pw.value) return setFieldError(pw, "type a password, or use Generate one");
    void setPw({ password: pw.value });
  });

  mount(box, h("div", { class: "grid" }, card("Details", info), card("Limits", limits), card("Root password", pwForm)));
}
