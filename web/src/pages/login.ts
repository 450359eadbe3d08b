//! The sign-in page: `POST /auth/login` sets the session cookies; the answer's CSRF token is
//! kept for writes.

import { ApiError, markSignedIn, post, setCsrf, type S } from "../api";
import { h, mount, field } from "../dom";

export function loginPage(app: HTMLElement, done: () => void): void {
  const user = h("input", { name: "username", autocomplete: "username", required: true, autofocus: true });
  const pass = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const error = h("p", { class: "error", role: "alert" });
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    { class: "login card", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "⚓ Berth"),
    h("p", { class: "muted" }, "Sign in to manage your instances."),
    field("Username", user),
    field("Password", pass),
    error,
    submit,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    submit.disabled = true;
    try {
      const s = await post<S["SessionResponse"]>("/auth/login", { username: user.value, password: pass.value });
      setCsrf(s.csrf_token);
      markSignedIn(true);
      done();
    } catch (e) {
      error.textContent = e instanceof ApiError ? e.message : "The daemon did not answer; is berthd running?";
      pass.select();
    } finally {
      submit.disabled = false;
    }
  });
  mount(app, h("main", { id: "main", class: "login-wrap" }, form));
  user.focus();
}
