//! My account: change my password (`POST /users/me/password`) and API tokens.

import { ApiError, del, enc, get, post, type S } from "../../api";
import { h, mount, card, field, setFieldError, table, when, toast, confirmDialog, bytes } from "../../dom";
import { current, load } from "../../session";

export async function accountSection(box: HTMLElement): Promise<void> {
  const cur = h("input", { type: "password", name: "current_password", autocomplete: "current-password", required: true });
  const next = h("input", { type: "password", name: "new_password", autocomplete: "new-password", required: true, minlength: 8 });
  const again = h("input", { type: "password", name: "repeat", autocomplete: "new-password", required: true });
  const pwForm = h("form", {}, field("Current password", cur), field("New password", next, "8–256 characters, not a common one, not your username."), field("Repeat the new password", again), h("button", { type: "submit" }, "Change password"));
  pwForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    [cur, next, again].forEach((c) => setFieldError(c, null));
    if (next.value !== again.value) return setFieldError(again, "the two new passwords differ"), again.focus();
    try {
      await post("/users/me/password", { current_password: cur.value, new_password: next.value });
      toast("Password changed; your other sessions were signed out");
      pwForm.reset();
    } catch (e) {
      const c = e instanceof ApiError && e.field === "current_password" ? cur : next;
      setFieldError(c, e instanceof ApiError ? e.message : String(e));
    }
  });

  const tokensBox = h("div");
  const secretBox = h("div", { "aria-live": "polite" });
  const tname = h("input", { name: "token-name", required: true, placeholder: "ci" });
  const scope = h("select", { name: "scope" }, h("option", { value: "full" }, "full"), h("option", { value: "read_only" }, "read only"));
  const expires = h("select", { name: "expires_in" }, h("option", { value: "" }, "never"), h("option", { value: "30d" }, "30 days"), h("option", { value: "90d" }, "90 days"), h("option", { value: "365d" }, "1 year"));
  const tForm = h("form", { class: "row wrap" }, field("Token name", tname), field("Scope", scope), field("Expires", expires), h("button", { type: "submit" }, "Create token"));
  tForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    setFieldError(tname, null);
    try {
      const r = await post<S["CreatedTokenResponse"]>("/tokens", { name: tname.value, scope: scope.value, ...(expires.value ? { expires_in: expires.value } : {}) });
      mount(secretBox, h("div", { class: "secret" }, h("p", {}, `Token ${r.token.name} (copy it now; it is shown once):`), h("code", { class: "mono" }, r.secret)));
      tname.value = "";
      await drawTokens();
    } catch (e) {
      setFieldError(tname, e instanceof ApiError ? e.message : String(e));
    }
  });
  const drawTokens = async () => {
    const list = await get<S["ApiToken"][]>("/tokens");
    mount(
      tokensBox,
      table(
        "API tokens",
        ["Name", "Scope", "Created", "Last used", "Expires", ""],
        list.map((t) => [
          t.name,
          t.scope,
          when(t.created_at),
          when(t.last_used_at),
          t.expires_at ? when(t.expires_at) : "never",
          h(
            "button",
            {
              type: "button",
              class: "small danger",
              onclick: async () => {
                if (!(await confirmDialog(`Revoke ${t.name}?`, "Scripts using this token stop working at once.", "revoke"))) return;
                await del(`/tokens/${enc(t.id)}`);
                await drawTokens();
              },
            },
            "revoke",
          ),
        ]),
        "No API tokens.",
      ),
    );
  };
  await drawTokens();
  const me = (await load()) ?? current(); // fresh usage
  const q = me?.user.quota ?? {};
  const u = me?.usage;
  const quota = u
    ? table(
        "My quota",
        ["Resource", "Used", "Quota"],
        (["instances", "cpu", "memory", "disk", "snapshots", "forwards"] as const).map((k) => {
          const fmt = k === "memory" || k === "disk" ? bytes : String;
          const limit = q[k];
          return [k, fmt(u[k]), limit === null || limit === undefined ? "no limit" : fmt(limit)];
        }),
      )
    : null;
  mount(box, h("div", { class: "grid" }, card(`Signed in as ${me?.user.username ?? "?"}`, quota), card("Change my password", pwForm), card("API tokens", tForm, secretBox, tokensBox)));
}
