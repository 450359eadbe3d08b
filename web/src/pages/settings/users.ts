//! Admins: users with role and quota, create, edit quota/role, delete.

import { ApiError, del, enc, get, patch, post, type S } from "../../api";
import { h, mount, card, field, setFieldError, table, bytes, when, toast, confirmDialog, GiB } from "../../dom";

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
  const num = (name: string, v: number | null | undefined, step = "any") => h("input", { name, type: "number", min: 0, step, value: v ?? "" });
  const i = {
    instances: num("q-instances", q.instances),
    cpu: num("q-cpu", q.cpu, "0.25"),
    memory: num("q-memory", q.memory != null ? q.memory / GiB : null, "0.5"),
    disk: num("q-disk", q.disk != null ? q.disk / GiB : null),
    snapshots: num("q-snapshots", q.snapshots),
    forwards: num("q-forwards", q.forwards),
  };
  const el = h("div", { class: "limits" }, field("Instances", i.instances), field("CPU (cores)", i.cpu), field("Memory (GiB)", i.memory), field("Disk (GiB)", i.disk), field("Snapshots", i.snapshots), field("Forwards", i.forwards));
  const value = (): S["Quota"] => {
    const n = (x: HTMLInputElement, scale = 1) => (x.value === "" ? null : Math.round(Number(x.value) * scale));
    return { instances: n(i.instances), cpu: i.cpu.value === "" ? null : Number(i.cpu.value), memory: n(i.memory, GiB), disk: n(i.disk, GiB), snapshots: n(i.snapshots), forwards: n(i.forwards) };
  };
  return { el, value };
}

export async function usersSection(box: HTMLElement): Promise<void> {
  const listBox = h("div");
  const editBox = h("div");
  const uname = h("input", { name: "username", required: true, autocomplete: "off" });
  const upass = h("input", { name: "password", type: "password", required: true, autocomplete: "new-password" });
  const role = h("select", { name: "role" }, h("option", { value: "user" }, "user"), h("option", { value: "admin" }, "admin"));
  const q = quotaInputs();
  const err = h("p", { class: "error", role: "alert" });
  const form = h("form", {}, h("div", { class: "row wrap" }, field("Username", uname), field("Password", upass), field("Role", role)), h("p", { class: "muted" }, "Quota (empty = no limit):"), q.el, err, h("button", { type: "submit" }, "Create user"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.textContent = "";
    [uname, upass].forEach((c) => setFieldError(c, null));
    try {
      await post("/users", { username: uname.value, password: upass.value, role: role.value, quota: q.value() });
      toast(`User ${uname.value} created`);
      form.reset();
      await draw();
    } catch (e) {
      if (e instanceof ApiError && (e.field === "username" || e.field === "password")) setFieldError(e.field === "username" ? uname : upass, e.message);
      else err.textContent = e instanceof ApiError ? e.message : String(e);
    }
  });
  const edit = (u: S["User"]) => {
    const eq = quotaInputs(u.quota);
    const r = h("select", { name: "edit-role" }, h("option", { value: "user", selected: u.role === "user" }, "user"), h("option", { value: "admin", selected: u.role === "admin" }, "admin"));
    const e2 = h("p", { class: "error", role: "alert" });
    const f = h("form", {}, field("Role", r), eq.el, e2, h("div", { class: "btns" }, h("button", { type: "submit" }, "Save"), h("button", { type: "button", onclick: () => mount(editBox) }, "Cancel")));
    f.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        await patch(`/users/${enc(u.id)}`, { role: r.value, quota: eq.value() });
        toast(`${u.username} saved`);
        mount(editBox);
        await draw();
      } catch (e) {
        e2.textContent = e instanceof ApiError ? e.message : String(e);
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
                    toast(e instanceof ApiError ? e.message : String(e), "error");
                  }
                  await draw();
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
