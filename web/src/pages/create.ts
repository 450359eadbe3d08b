//! The create wizard: image library, a generated (editable) name, limits against the remaining
//! quota, root password or a generated one, SSH keys, backend (admins), IPv6 and WireGuard;
//! then the operation's live progress and, on success, the new instance's page.

import { ApiError, get, optional, post, type Operation, type S } from "../api";
import { h, mount, card, field, setFieldError, bytes, GiB, MiB } from "../dom";
import type { Settings } from "../contracts";
import { follow } from "../ops";
import { current, isAdmin, load } from "../session";
import { checkWireguard } from "../wireguard";

const FEATURED = ["debian/12", "ubuntu/24.04"];
const ADJ = ["brave", "calm", "eager", "gentle", "happy", "keen", "lucky", "proud", "quiet", "swift", "tidy", "warm"];
const NOUN = ["otter", "heron", "seal", "tern", "puffin", "gull", "orca", "crab", "eel", "skate", "wren", "pike"];
const NAME = /^(?!-)(?!\d+$)[a-z0-9-]{1,63}(?<!-)$/;

export function generatedName(): string {
  const pick = (a: string[]) => a[Math.floor(Math.random() * a.length)];
  return `${pick(ADJ)}-${pick(NOUN)}-${Math.floor(Math.random() * 90 + 10)}`;
}

function randomPassword(): string {
  const bytesArr = crypto.getRandomValues(new Uint8Array(15));
  return btoa(String.fromCharCode(...bytesArr)).replace(/\+/g, "x").replace(/\//g, "y");
}

/** A slider + number pair (keyboard and touch friendly) with a "remaining" hint. */
function limitControl(label: string, unit: string, value: number, min: number, max: number, step: number, remaining: string) {
  const num = h("input", { type: "number", min, max, step, value, inputmode: "decimal", name: label.toLowerCase() });
  const range = h("input", { type: "range", min, max, step, value, "aria-label": `${label} slider`, tabindex: -1 });
  range.addEventListener("input", () => (num.value = range.value));
  num.addEventListener("input", () => (range.value = num.value));
  const f = field(`${label} (${unit})`, num, remaining);
  f.insertBefore(range, num.nextSibling);
  return { el: f, input: num };
}

export async function createPage(main: HTMLElement): Promise<void> {
  const me = (await load()) ?? current();
  const [images, settings, sys] = await Promise.all([
    get<S["ImageInfo"][]>("/images"),
    optional<Settings>("/settings").catch(() => null),
    get<S["SystemInfo"]>("/system"),
  ]);
  // The wizard always proposes limits: the host's defaults where it has them (a null default
  // means "unlimited" for API clients that omit the field), else a small VPS.
  const given = settings?.defaults;
  const d = {
    image: given?.image ?? "debian/12",
    cpu: given?.cpu ?? 1,
    memory: given?.memory ?? 512 * MiB,
    disk: given?.disk ?? 10 * GiB,
    processes: given?.processes ?? 512,
    autostart: given?.autostart ?? false,
  };
  const quota = me?.user.quota ?? {};
  const usage = me?.usage ?? { cpu: 0, memory: 0, disk: 0, instances: 0, forwards: 0, snapshots: 0 };
  const left = (q: number | null | undefined, used: number, fmt: (n: number) => string) =>
    q === null || q === undefined ? "no quota limit" : `${fmt(Math.max(0, q - used))} of ${fmt(q)} left in your quota`;

  // Images: featured first, then the rest; radio buttons (arrow keys move between them).
  const sorted = [...images].sort((a, b) => (FEATURED.includes(b.alias) ? 1 : 0) - (FEATURED.includes(a.alias) ? 1 : 0));
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
        h("span", { class: "muted" }, img.status === "cached" ? `cached · ${bytes(img.size)}` : "built on first use"),
      ),
    ),
  );
  const name = h("input", { name: "name", value: generatedName(), autocomplete: "off", spellcheck: "false" });
  const regen = h("button", { type: "button", class: "small", onclick: () => (name.value = generatedName()) }, "New name");
  const cpu = limitControl("CPU", "cores", d.cpu, 0.25, Math.max(sys.cpus, 1), 0.25, left(quota.cpu, usage.cpu, (n) => `${n} cores`));
  const memory = limitControl("Memory", "MiB", Math.round(d.memory / MiB), 64, Math.max(Math.round(sys.memory / MiB), 64), 64, left(quota.memory, usage.memory, bytes));
  const disk = limitControl("Disk", "GiB", Math.round(d.disk / GiB), 1, 200, 1, left(quota.disk, usage.disk, bytes));
  const password = h("input", { type: "password", name: "password", autocomplete: "new-password" });
  const genPw = h("input", { type: "checkbox", name: "generate_password", checked: true });
  const showPw = h("button", { type: "button", class: "small", onclick: () => (password.type = password.type === "password" ? "text" : "password") }, "Show");
  const fillPw = h("button", { type: "button", class: "small", onclick: () => ((password.value = randomPassword()), (password.type = "text"), (genPw.checked = false)) }, "Suggest one");
  password.addEventListener("input", () => (genPw.checked = password.value === ""));
  const ssh = h("textarea", { name: "ssh_keys", rows: 2, placeholder: "ssh-ed25519 AAAA… you@laptop", spellcheck: "false" });
  const backend = h(
    "select",
    { name: "backend" },
    h("option", { value: "" }, `default (${sys.default_backend})`),
    sys.backends.map((b) => h("option", { value: b.name, disabled: !b.usable }, b.usable ? b.name : `${b.name} — ${b.reason ?? "not usable"}`)),
  );
  const autostart = h("input", { type: "checkbox", name: "autostart", checked: d.autostart });
  const net = await optional<S["NetworkInfo"]>("/network").catch(() => null);
  const ipv6Mode = net?.ipv6_uplink.mode ?? "none";
  const wg = h("textarea", { name: "wireguard", rows: 6, spellcheck: "false", placeholder: "[Interface]\nPrivateKey = …\nAddress = 10.0.0.2/32\n\n[Peer]\nPublicKey = …\nAllowedIPs = 0.0.0.0/0\nEndpoint = vpn.example.org:51820" });
  wg.addEventListener("input", () => setFieldError(wg, wg.value.trim() ? checkWireguard(wg.value) : null));
  name.addEventListener("input", () => setFieldError(name, NAME.test(name.value) ? null : "1–63 of a–z, 0–9 and '-', not starting or ending with '-', not all digits"));

  const formError = h("p", { class: "error", role: "alert" });
  const submit = h("button", { type: "submit", class: "primary" }, "Create");
  const progress = h("div", { class: "progress-box", hidden: true });
  const form = h(
    "form",
    { class: "wizard", novalidate: true },
    card("1. Image", imageList),
    card("2. Name", h("div", { class: "row" }, field("Name", name, "A DNS label; edit the suggestion or take a new one."), regen)),
    card("3. Resources", h("div", { class: "limits" }, cpu.el, memory.el, disk.el), me?.user.quota?.instances != null ? h("p", { class: "muted" }, left(quota.instances, usage.instances, String).replace("left", "instances left")) : null),
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
    formError,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    formError.textContent = "";
    [name, wg, cpu.input, memory.input, disk.input, password].forEach((c) => setFieldError(c, null));
    if (!NAME.test(name.value)) return setFieldError(name, "not a valid name"), name.focus();
    const wgErr = wg.value.trim() ? checkWireguard(wg.value) : null;
    if (wgErr) return setFieldError(wg, wgErr), wg.focus();
    const image = (form.querySelector<HTMLInputElement>("input[name=image]:checked") ?? null)?.value ?? d.image;
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
      if (e instanceof ApiError) {
        const target = { name, wireguard: wg, "limits.cpu": cpu.input, "limits.memory": memory.input, "limits.disk": disk.input, password }[e.field ?? ""];
        if (target) {
          setFieldError(target, e.message);
          target.focus();
        }
        formError.textContent = e.message;
      } else formError.textContent = String(e);
    }
  });
  mount(main, h("h1", {}, "Create an instance"), form, progress);
}

async function showProgress(box: HTMLElement, env: S["OperationEnvelope"], name: string): Promise<void> {
  const bar = h("div", { class: "bar big-bar", role: "progressbar", "aria-label": `Creating ${name}`, "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": 0 }, h("div", { class: "bar-fill" }));
  const pct = h("span", { class: "pct" }, "0 %");
  const message = h("p", { class: "op-message", "aria-live": "polite" });
  const steps = h("ol", { class: "steps" });
  const outcome = h("div", { role: "alert" });
  const pw = env.password
    ? h("div", { class: "secret" }, h("p", {}, "Generated root password (shown this once):"), h("code", { class: "mono", "data-testid": "generated-password" }, env.password))
    : null;
  mount(box, card(`Creating ${name}`, h("div", { class: "row" }, bar, pct), message, steps, pw, outcome));
  const draw = (op: Operation) => {
    bar.setAttribute("aria-valuenow", String(op.progress));
    (bar.firstChild as HTMLElement).style.width = `${op.progress}%`;
    pct.textContent = `${op.progress} %`;
    message.textContent = op.message;
    mount(steps, op.steps.map((s) => h("li", { class: `step step-${s.status}` }, h("span", { class: "step-status" }, s.status), ` ${s.name}: ${s.message}`)));
  };
  const op = await follow(env.operation, draw);
  if (op.status === "success") {
    mount(outcome, h("p", { class: "ok" }, `${name} is ready.`), h("a", { class: "button primary", href: `#/instances/${encodeURIComponent(name)}` }, `Open ${name}`));
    if (!env.password) location.hash = `#/instances/${encodeURIComponent(name)}`;
  } else {
    pw?.remove(); // the instance is gone: its password is of no use
    bar.classList.add("bar-high");
    const failed = op.steps.find((s) => s.status === "failed");
    mount(
      outcome,
      h("p", { class: "error" }, `Creating ${name} failed${failed ? ` at step "${failed.name}"` : ""}: ${op.error ?? op.status}`),
      h("button", { type: "button", onclick: () => window.dispatchEvent(new HashChangeEvent("hashchange")) }, "Try again"),
    );
  }
}


