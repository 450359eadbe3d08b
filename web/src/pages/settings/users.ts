//! Admins: users with role and quota, create, edit quota/role, delete.

import { del, enc, get, message, patch, post, type S } from "../../api";
import { h, mount, card, field, table, bytes, when, toast, confirmDialog, formError, showError, clearErrors, setFieldError, GiB } from "../../dom";
import { checkNumber, constrain, inGiB, ENUMS, type NumberCheck } from "../../rules";

function quotaText(q: S["Quota"]): string {
  const parts = [
    q.instances != null ? `${q.instances} instances` : null,
    q.cpu != null ? `${q.cpu} CPU` : null,
    q.memory != null ? `${bytes(q.memory)} memory` : null,
    q.disk != null ? `${bytes(q.disk)} disk` : null,
    q.snapshots != null ? `${q.snapshots} snapshots` : null,
    q.forwards != null ? `${q.forwards} forwards` : null,
    q.port_range ? `ports ${q.port_range[0]}–${q.port_range[1]}` : null,
  ].filter(Boolean);
  return parts.length ? parts.join(" · ") : "no limits";
}

/** Quota inputs (empty = no limit); memory and disk in GiB. */
function quotaInputs(q: S["Quota"] = {}) {
  const num = (name: string, key: string, check: NumberCheck, v: number | null | undefined, step = "any") => {
    const el = h("input", { name, type: "number", step, value: v ?? "", placeholder: "no limit" });
    constrain(el, `Quota.${key}`, check);
    el.addEventListener("input", () => setFieldError(el, checkNumber(`Quota.${key}`, el.value, check)));
    return el;
  };
  const i = {
    instances: num("q-instances", "instances", {}, q.instances, "1"),
    cpu: num("q-cpu", "cpu", {}, q.cpu, "0.25"),
    memory: num("q-memory", "memory", inGiB, q.memory != null ? q.memory / GiB : null, "0.5"),
    disk: num("q-disk", "disk", inGiB, q.disk != null ? q.disk / GiB : null),
    snapshots: num("q-snapshots", "snapshots", {}, q.snapshots, "1"),
    forwards: num("q-forwards", "forwards", {}, q.forwards, "1"),
  };
  const el = h("div", { class: "limits" }, field("Instances", i.instances), field("CPU (cores)", i.cpu), field("Memory (GiB)", i.memory), field("Disk (GiB)", i.disk), field("Snapshots", i.snapshots), field("Forwards", i.forwards));
  const value = (): S["Quota"] => {
    const n = (x: HTMLInputElement, scale = 1) => (x.value === "" ? null : Math.round(Number(x.value) * scale));
    return { instances: n(i.instances), cpu: i.cpu.value === "" ? null : Number(i.cpu.value), memory: n(i.memory, GiB), disk: n(i.disk, GiB), snapshots: n(i.snapshots), forwards: n(i.forwards) };
  };
  const fields = Object.fromEntries(Object.entries(i).map(([k, v]) => [`quota.${k}`, v]));
  return { el, value, fields };
}

export async function usersSection(box: HTMLElement): Promise<void> {
  const listBox = h("div");
  const editBox = h("div");
  const uname = h("input", { name: "username", required: true, autocomplete: "off" });
  const upass = h("input", { name: "password", type: "password", required: true, autocomplete: "new-password" });
  const role = h("select", { name: "role" }, ENUMS.Role.map((r) => h("option", { value: r }, r)));
  const q = quotaInputs();
  const err = formError();
  const form = h("form", { "aria-label": "New user", novalidate: true }, h("div", { class: "row wrap" }, field("Username", uname), field("Password", upass), field("Role", role)), h("p", { class: "muted" }, "Quota (empty = no limit):"), q.el, err, h("button", { type: "submit" }, "Create user"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    try {
      await post("/users", { username: uname.value, password: upass.value, role: role.value as S["Role"], quota: q.value() });
      toast(`User ${uname.value} created`);
      form.reset();
      await draw();
    } catch (e) {
      showError(e, { username: uname, password: upass, role, ...q.fields }, err);
    }
  });
  const edit = (u: S["User"]) => {
    const eq = quotaInputs(u.quota);
    const r = h("select", { name: "edit-role" }, ENUMS.Role.map((x) => h("option", { value: x, selected: u.role === x }, x)));
    const e2 = formError();
    const f = h("form", { "aria-label": `Edit ${u.username}`, novalidate: true }, field("Role", r), eq.el, e2, h("div", { class: "btns" }, h("button", { type: "submit" }, "Save"), h("button", { type: "button", onclick: () => mount(editBox) }, "Cancel")));
    f.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        await patch(`/users/${enc(u.id)}`, { role: r.value as S["Role"], quota: eq.value() });
        toast(`${u.username} saved`);
        mount(editBox);
        await draw();
      } catch (e) {
        showError(e, { role: r, ...eq.fields }, e2);
      }
    });
    mount(editBox, card(`Edit ${u.username}`, f));
    r.focus();
  };
  const draw = async () => {
    const users = await get<S["User"][]>("/users");
    mount(
      listBox,
      table(
        "Users",
        ["User", "Role", "Quota", "Created", ""],
        users.map((u) => [
          u.username,
          u.role,
          quotaText(u.quota),
          when(u.created_at),
          h(
            "div",
            { class: "btns" },
            h("button", { type: "button", class: "small", onclick: () => edit(u) }, "edit"),
            h(
              "button",
              {
                type: "button",
                class: "small danger",
                onclick: async () => {
                  if (!(await confirmDialog(`Delete ${u.username}?`, "Their sessions and tokens end. A user who owns instances cannot be deleted.", "delete"))) return;
                  try {
                    await del(`/users/${enc(u.id)}`);
                  } catch (e) {
                    toast(message(e), "error");
                  }
                  await draw().catch(() => {});
                },
              },
              "delete",
            ),
          ),
        ]),
      ),
    );
  };
  await draw();
  mount(box, card("Users and quotas", listBox), editBox, card("New user", form));
}
