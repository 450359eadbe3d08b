//! The create wizard: image library, a generated (editable) name, limits bounded by the host
//! and by what the user's quota leaves (defaults fit inside it; Create is disabled with the
//! reason when nothing fits), root password or a generated one, SSH keys, backend (admins),
//! IPv6 and WireGuard; then the operation's live progress and, on success, the new instance.
//! Every rule checked here comes from the OpenAPI description (rules.ts).

import { get, message, post, type Operation, type S } from "../api";
import { h, mount, card, field, setFieldError, bytes, clearErrors, copyButton, formError, showError, GiB, MiB } from "../dom";
import type { Settings } from "../contracts";
import { follow } from "../ops";
import { progressView } from "../progress";
import { checkNumber, checkText, constrain, inGiB, inMiB, rule, NAME_FORM, type NumberCheck } from "../rules";
import { current, isAdmin, reload } from "../session";
import { checkWireguard } from "../wireguard";

const FEATURED = ["debian/12", "ubuntu/24.04"];
const ADJ = ["brave", "calm", "eager", "gentle", "happy", "keen", "lucky", "proud", "quiet", "swift", "tidy", "warm"];
const NOUN = ["otter", "heron", "seal", "tern", "puffin", "gull", "orca", "crab", "eel", "skate", "wren", "pike"];


export function generatedName(): string {
  const pick = (a: string[]) => a[Math.floor(Math.random() * a.length)];
  return `${pick(ADJ)}-${pick(NOUN)}-${Math.floor(Math.random() * 90 + 10)}`;
}

function randomPassword(): string {
  const bytesArr = crypto.getRandomValues(new Uint8Array(15));
  return btoa(String.fromCharCode(...bytesArr)).replace(/\+/g, "x").replace(/\//g, "y");
}

/** What the quota leaves of one resource, or `null` when it does not cap it. */
function left(quota: number | null | undefined, used: number): number | null {
  return quota === null || quota === undefined ? null : Math.max(0, quota - used);
}

/** A number input (with a slider) checked against its schema rule and the extra bounds. */
function limitControl(label: string, key: string, value: number, step: number, check: NumberCheck, hint: string) {
  const num = h("input", { type: "number", step, value, inputmode: "decimal", name: label.toLowerCase() });
  constrain(num, key, check);
  // A slider needs an end: the bound when there is one, else room to grow.
  const end = num.max || String(Math.max(100, value * 4));
  const range = h("input", { type: "range", min: num.min, max: end, step, value, "aria-label": `${label.replace(/ \(.*\)$/, "")} slider`, tabindex: -1 });
  const validate = () => {
    const problem = checkNumber(key, num.value, { ...check, required: true });
    setFieldError(num, problem);
    return problem;
  };
  range.addEventListener("input", () => {
    num.value = range.value;
    validate();
  });
  num.addEventListener("input", () => {
    range.value = num.value;
    validate();
  });
  const f = field(label, num, hint);
  f.insertBefore(range, num.nextSibling);
  return { el: f, input: num, validate };
}

export async function createPage(main: HTMLElement): Promise<void> {
  const [images, settings, sys, net, me] = await Promise.all([
    get<S["ImageInfo"][]>("/images"),
    get<Settings>("/settings"),
    get<S["SystemInfo"]>("/system"),
    get<S["NetworkInfo"]>("/network"),
    reload(), // fresh usage: what the quota leaves now
  ]);
  const quota = me?.user.quota ?? current()?.user.quota ?? {};
  const usage = me?.usage ?? { cpu: 0, memory: 0, disk: 0, instances: 0, forwards: 0, snapshots: 0 };
  const room = {
    instances: left(quota.instances, usage.instances),
    cpu: left(quota.cpu, usage.cpu),
    memory: left(quota.memory, usage.memory),
    disk: left(quota.disk, usage.disk),
  };
  const min = { cpu: rule("Limits.cpu").minimum ?? 0.01, memory: rule("Limits.memory").minimum ?? 0, disk: rule("Limits.disk").minimum ?? 0 };
  // Why nothing fits, if nothing does.
  const blocked = [
    room.instances === 0 ? `your quota allows ${quota.instances} instance${quota.instances === 1 ? "" : "s"} and you have ${usage.instances}` : null,
    room.cpu !== null && room.cpu < min.cpu ? `your CPU quota is used up (${usage.cpu} of ${quota.cpu} cores)` : null,
    room.memory !== null && room.memory < min.memory ? `your memory quota leaves ${bytes(room.memory)} and an instance needs at least ${bytes(min.memory)}` : null,
    room.disk !== null && room.disk < min.disk ? `your disk quota leaves ${bytes(room.disk)} and an instance needs at least ${bytes(min.disk)}` : null,
  ].filter((x): x is string => x !== null);

  // Defaults: the host's settings (else a small VPS), kept inside the quota and the host.
  const given = settings.defaults;
  const fit = (want: number, ...caps: (number | null)[]) => Math.min(want, ...caps.filter((c): c is number => c !== null));
  const floorTo = (v: number, step: number) => Math.floor(v / step) * step;
  const d = {
    image: given.image ?? "debian/12",
    cpu: Math.max(min.cpu, floorTo(fit(given.cpu ?? 1, room.cpu, sys.cpus), 0.25) || fit(given.cpu ?? 1, room.cpu, sys.cpus)),
    memory: Math.max(min.memory, floorTo(fit(given.memory ?? 512 * MiB, room.memory, sys.memory), 64 * MiB)),
    disk: Math.max(min.disk, floorTo(fit(given.disk ?? 10 * GiB, room.disk), GiB / 2)),
    autostart: given.autostart ?? false,
  };
  const hostCpu = { value: sys.cpus, why: `the host's ${sys.cpus} CPUs` };
  const hostMem = { value: sys.memory, why: `the host's ${bytes(sys.memory)} of memory` };
  const quotaMax = (v: number | null, why: string) => (v === null ? [] : [{ value: v, why }]);
  const leftText = (v: number | null, q: number | null | undefined, fmt: (n: number) => string) =>
    v === null ? "no quota limit" : `${fmt(v)} of ${fmt(q ?? 0)} left in your quota`;

  // Images: featured first, then the rest; radio buttons (arrow keys move between them).
  // Imported (OCI) and fetched (image server) images cannot be launched as instances yet.
  const systemImages = images.filter((i) => i.status !== "imported" && i.status !== "fetched");
  const sorted = [...systemImages].sort((a, b) => (FEATURED.includes(b.alias) ? 1 : 0) - (FEATURED.includes(a.alias) ? 1 : 0));
  const imageList = h(
    "fieldset",
    { class: "images" },
    h("legend", { class: "sr-only" }, "Image"),
    sorted.map((img) =>
      h(
        "label",
        { class: "image-card" },
        h("input", { type: "radio", name: "image", value: img.alias, checked: img.alias === d.image }),
        h("strong", {}, img.alias),
        FEATURED.includes(img.alias) ? h("span", { class: "tag" }, "featured") : null,
        h("span", { class: "muted" }, `${img.distro} ${img.version} (${img.codename})`),
        h("span", { class: "muted" }, img.status === "cached" ? `cached · ${bytes(img.size)}` : "built on first use (a few minutes)"),
      ),
    ),
  );
  const name = h("input", { name: "name", value: generatedName(), autocomplete: "off", spellcheck: "false" });
  const nameRule = rule("CreateInstanceRequest.name");
  if (nameRule.maxLength) name.maxLength = nameRule.maxLength;
  const regen = h("button", { type: "button", class: "small", onclick: () => ((name.value = generatedName()), setFieldError(name, null)) }, "New name");
  const cpu = limitControl("CPU (cores)", "Limits.cpu", d.cpu, 0.25, { max: [hostCpu, ...quotaMax(room.cpu, `the ${room.cpu} cores your quota leaves`)] }, `${leftText(room.cpu, quota.cpu, (n) => `${n} cores`)} · the host has ${sys.cpus}`);
  const memory = limitControl("Memory (MiB)", "Limits.memory", Math.round(d.memory / MiB), 64, { ...inMiB, max: [hostMem, ...quotaMax(room.memory, `the ${bytes(room.memory ?? 0)} your quota leaves`)] }, `${leftText(room.memory, quota.memory, bytes)} · the host has ${bytes(sys.memory)}`);
  const disk = limitControl("Disk (GiB)", "Limits.disk", +(d.disk / GiB).toFixed(2), 0.5, { ...inGiB, max: quotaMax(room.disk, `the ${bytes(room.disk ?? 0)} your quota leaves`) }, leftText(room.disk, quota.disk, bytes));
  const password = h("input", { type: "password", name: "password", autocomplete: "new-password" });
  const genPw = h("input", { type: "checkbox", name: "generate_password", checked: true });
  const showPw = h("button", { type: "button", class: "small", onclick: () => (password.type = password.type === "password" ? "text" : "password") }, "Show");
  const fillPw = h("button", { type: "button", class: "small", onclick: () => ((password.value = randomPassword()), (password.type = "text"), (genPw.checked = false), setFieldError(password, null)) }, "Suggest one");
  password.addEventListener("input", () => {
    genPw.checked = password.value === "";
    setFieldError(password, checkText("CreateInstanceRequest.password", password.value, "contains a control character; leave them out"));
  });
  const ssh = h("textarea", { name: "ssh_keys", rows: 2, placeholder: "ssh-ed25519 AAAA… you@laptop", spellcheck: "false" });
  ssh.addEventListener("input", () => setFieldError(ssh, null));
  const backend = h(
    "select",
    { name: "backend" },
    h("option", { value: "" }, `default (${sys.default_backend})`),
    sys.backends.map((b) => h("option", { value: b.name, disabled: !b.usable }, b.usable ? b.name : `${b.name} — ${b.reason ?? "not usable"}`)),
  );
  const autostart = h("input", { type: "checkbox", name: "autostart", checked: d.autostart });
  const ipv6Mode = net.ipv6_uplink.mode;
  const wg = h("textarea", { name: "wireguard", rows: 6, spellcheck: "false", placeholder: "[Interface]\nPrivateKey = …\nAddress = 10.0.0.2/32\n\n[Peer]\nPublicKey = …\nAllowedIPs = 0.0.0.0/0\nEndpoint = vpn.example.org:51820" });
  wg.addEventListener("input", () => setFieldError(wg, wg.value.trim() ? checkWireguard(wg.value) : null));
  name.addEventListener("input", () => setFieldError(name, checkText("CreateInstanceRequest.name", name.value, NAME_FORM, true)));

  const err = formError();
  const why = h("p", { class: "blocked", id: "create-blocked", role: "status" }, blocked.length ? `Nothing fits: ${blocked.join("; ")}. Delete something or ask an admin to raise your quota.` : "");
  const submit = h("button", { type: "submit", class: "primary", disabled: blocked.length > 0, "aria-describedby": blocked.length ? "create-blocked" : null }, "Create");
  const progress = h("div", { class: "progress-box", hidden: true });
  const quotaLine =
    room.instances !== null
      ? h("p", { class: "muted", "data-testid": "instances-left" }, `${room.instances} of ${quota.instances} instances left in your quota.`)
      : null;
  const form = h(
    "form",
    { class: "wizard", novalidate: true, "aria-label": "Create an instance" },
    card("1. Image", imageList),
    card("2. Name", h("div", { class: "row" }, field("Name", name, "A DNS label; edit the suggestion or take a new one."), regen)),
    card("3. Resources", h("div", { class: "limits" }, cpu.el, memory.el, disk.el), quotaLine),
    card(
      "4. Access",
      h("div", { class: "row" }, field("Root password", password, "Leave empty to have one generated and shown once."), showPw, fillPw),
      h("label", { class: "check" }, genPw, " Generate a root password"),
      field("SSH public keys (one a line)", ssh),
    ),
    card(
      "5. Options",
      isAdmin() ? field("Backend", backend) : null,
      h("label", { class: "check" }, autostart, " Start when the host boots (autostart)"),
      h("p", {}, "IPv6: ", h("strong", {}, ipv6Mode === "none" ? "private only (fd42:…)" : `routed via the host's ${ipv6Mode} uplink`), ipv6Mode === "none" ? h("span", { class: "muted" }, " — an admin sets the uplink mode on the Network page.") : null),
      field("WireGuard config for the guest (optional, wg-quick format)", wg, "Becomes /etc/wireguard/wg0.conf with wg-quick@wg0 enabled."),
    ),
    err,
    why,
    h("div", { class: "actions" }, submit),
  );
  const controls: Record<string, Element> = { name, wireguard: wg, "limits.cpu": cpu.input, "limits.memory": memory.input, "limits.disk": disk.input, password, ssh_keys: ssh, backend, image: imageList };
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (blocked.length) return;
    clearErrors(form);
    // Every field is checked; the first problem gets the focus.
    const problems: [HTMLElement, string | null][] = [
      [name, checkText("CreateInstanceRequest.name", name.value, NAME_FORM, true)],
      [cpu.input, cpu.validate()],
      [memory.input, memory.validate()],
      [disk.input, disk.validate()],
      [password, checkText("CreateInstanceRequest.password", password.value, "contains a control character; leave them out")],
      [wg, wg.value.trim() ? checkWireguard(wg.value) : null],
    ];
    problems.forEach(([c, p]) => setFieldError(c, p));
    const first = problems.find(([, p]) => p);
    if (first) return first[0].focus();
    const image = form.querySelector<HTMLInputElement>("input[name=image]:checked")?.value ?? d.image;
    const body: S["CreateInstanceRequest"] = {
      name: name.value,
      image,
      limits: {
        cpu: Number(cpu.input.value),
        memory: Math.round(Number(memory.input.value) * MiB),
        disk: Math.round(Number(disk.input.value) * GiB),
      },
      autostart: autostart.checked,
      ssh_keys: ssh.value.split("\n").map((s) => s.trim()).filter(Boolean),
      ...(password.value ? { password: password.value } : { generate_password: genPw.checked }),
      ...(wg.value.trim() ? { wireguard: wg.value } : {}),
      ...(isAdmin() && backend.value ? { backend: backend.value } : {}),
    };
    submit.disabled = true;
    try {
      const env = await post<S["OperationEnvelope"]>("/instances", body);
      form.hidden = true;
      progress.hidden = false;
      await showProgress(progress, env, name.value);
    } catch (e) {
      submit.disabled = false;
      // `ssh_keys[1]` is the second line of the textarea.
      const line = /^ssh_keys\[(\d+)\]$/.exec((e as { field?: string }).field ?? "");
      if (line) {
        setFieldError(ssh, `Key on line ${Number(line[1]) + 1} ${message(e)}`);
        ssh.focus();
      } else showError(e, controls, err);
    }
  });
  mount(main, h("h1", {}, "Create an instance"), form, progress);
}

async function showProgress(box: HTMLElement, env: S["OperationEnvelope"], name: string): Promise<void> {
  const view = progressView(`Creating ${name}`);
  const pw = env.password
    ? h(
        "div",
        { class: "secret" },
        h("p", {}, "Generated root password (shown this once):"),
        h("div", { class: "row" }, h("code", { class: "mono", "data-testid": "generated-password" }, env.password), copyButton("the root password", () => env.password ?? "")),
      )
    : null;
  mount(box, view.el, pw);
  const op: Operation = await follow(env.operation, (o) => view.op(o));
  const again = h("a", { class: "button", href: "#/create" }, "Create another");
  if (op.status === "success") {
    view.done(h("p", { class: "ok" }, `${name} is ready.`), h("div", { class: "btns" }, h("a", { class: "button primary", href: `#/instances/${encodeURIComponent(name)}` }, `Open ${name}`), again));
    if (!env.password) location.hash = `#/instances/${encodeURIComponent(name)}`;
  } else {
    pw?.remove(); // the instance is gone: its password is of no use
    view.failed(op);
    view.done(
      h("p", { class: "error" }, `Creating ${name} failed${op.steps.find((s) => s.status === "failed") ? ` at step "${op.steps.find((s) => s.status === "failed")?.name}"` : ""}: ${op.error ?? op.status}`),
      again,
    );
  }
}
