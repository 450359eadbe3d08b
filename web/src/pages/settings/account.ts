//! My account: change my password (`POST /users/me/password`) and API tokens.

import { ApiError, del, enc, get, message, post, type S } from "../../api";
import { h, mount, card, field, setFieldError, table, when, toast, confirmDialog, bytes, copyButton, showError, clearErrors, formError } from "../../dom";
import { current, reload } from "../../session";

export async function accountSection(box: HTMLElement): Promise<void> {
  const cur = h("input", { type: "password", name: "current_password", autocomplete: "current-password", required: true });
  const next = h("input", { type: "password", name: "new_password", autocomplete: "new-password", required: true });
  const again = h("input", { type: "password", name: "repeat", autocomplete: "new-password", required: true });
  const pwErr = formError();
  const pwForm = h("form", { "aria-label": "Change my password", novalidate: true }, field("Current password", cur), field("New password", next, "Not a common one, and not your username."), field("Repeat the new password", again), pwErr, h("button", { type: "submit" }, "Change password"));
  pwForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(pwForm);
    if (next.value !== again.value) return setFieldError(again, "the two new passwords differ"), again.focus();
    try {
      await post("/users/me/password", { current_password: cur.value, new_password: next.value });
      toast("Password changed; your other sessions were signed out");
      pwForm.reset();
    } catch (e) {
      // A wrong current password is a 401 that names no field: it is that field's error.
      const err = e instanceof ApiError && e.status === 401 && !e.field ? new ApiError(401, e.code, e.message, "current_password") : e;
      showError(err, { current_password: cur, new_password: next, password: next }, pwErr);
    }
  });

  const tokensBox = h("div");
  const secretBox = h("div", { "aria-live": "polite" });
  const tname = h("input", { name: "token-name", required: true, placeholder: "ci" });
  const scope = h("select", { name: "scope" }, h("option", { value: "full" }, "full"), h("option", { value: "read_only" }, "read only"));
  const expires = h("select", { name: "expires_in" }, h("option", { value: "" }, "never"), h("option", { value: "30d" }, "30 days"), h("option", { value: "90d" }, "90 days"), h("option", { value: "365d" }, "1 year"));
  const tokErr = formError();
  const tForm = h("form", { class: "row wrap", "aria-label": "New API token", novalidate: true }, field("Token name", tname), field("Scope", scope), field("Expires", expires), h("button", { type: "submit" }, "Create token"), tokErr);
  tForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    setFieldError(tname, null);
    try {
      const r = await post<S["CreatedTokenResponse"]>("/tokens", { name: tname.value, scope: scope.value, ...(expires.value ? { expires_in: expires.value } : {}) });
      const secret = r.secret;
      mount(secretBox, h("div", { class: "secret" }, h("p", {}, `Token ${r.token.name} (copy it now; it is shown once):`), h("div", { class: "row" }, h("code", { class: "mono", "data-testid": "token-secret" }, secret), copyButton("the token", () => secret))));
      tname.value = "";
      await drawTokens();
    } catch (e) {
      showError(e, { name: tname, scope, expires_in: expires }, tokErr);
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
                try {
                  await del(`/tokens/${enc(t.id)}`);
                } catch (e) {
                  toast(message(e), "error");
                }
                await drawTokens().catch(() => {});
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
  const me = (await reload().catch(() => null)) ?? current(); // fresh usage
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
