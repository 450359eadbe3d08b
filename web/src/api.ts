//! The API client: same-origin fetch with the session cookie, the CSRF header on writes, and
//! typed helpers over the types generated from openapi/berth.json.

import type { components } from "./gen/api";

export type S = components["schemas"];
export type Instance = S["Instance"];
export type Operation = S["Operation"];
export type Me = S["Me"];

/** An error answer: `{"error": {"code", "message", "field"}}` plus the HTTP status. */
export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public field: string | null = null,
  ) {
    super(message);
  }
}

let csrf: string | null = null;
export function setCsrf(token: string | null | undefined): void {
  csrf = token ?? null;
}
export function csrfToken(): string | null {
  return csrf;
}

/** Called on a 401 (the session ended): the app shows the login page. */
let onUnauthorized: () => void = () => {};
export function whenUnauthorized(f: () => void): void {
  onUnauthorized = f;
}

/** Whether this browser signed in (the cookies are HttpOnly): only then is a refresh worth trying. */
const SIGNED_IN = "berth-signed-in";
export function markSignedIn(yes: boolean): void {
  if (yes) localStorage.setItem(SIGNED_IN, "1");
  else localStorage.removeItem(SIGNED_IN);
}

let refreshing: Promise<boolean> | null = null;
async function refresh(): Promise<boolean> {
  if (!localStorage.getItem(SIGNED_IN)) return false;
  refreshing ??= fetch("/api/v1/auth/refresh", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{}",
    credentials: "same-origin",
  })
    .then(async (r) => {
      if (!r.ok) {
        markSignedIn(false);
        return false;
      }
      const body = (await r.json()) as S["SessionResponse"];
      setCsrf(body.csrf_token);
      return true;
    })
    .catch(() => false)
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

export async function request<T>(method: string, path: string, body?: unknown, retry = true): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && csrf) headers["x-csrf-token"] = csrf;
  const r = await fetch(`/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  // The access cookie lasts 15 minutes; the refresh cookie renews it once, silently.
  if (r.status === 401 && retry && path !== "/auth/login" && path !== "/auth/refresh") {
    if (await refresh()) return request<T>(method, path, body, false);
    if (!path.startsWith("/auth/")) onUnauthorized();
  }
  if (r.status === 204) return undefined as T;
  const text = await r.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!r.ok) {
    const e = (data as S["ErrorBody"] | null)?.error;
    throw new ApiError(r.status, e?.code ?? "http", e?.message ?? `HTTP ${r.status}`, e?.field ?? null);
  }
  return data as T;
}

export const get = <T>(path: string) => request<T>("GET", path);
export const post = <T>(path: string, body: unknown = {}) => request<T>("POST", path, body);
export const patch = <T>(path: string, body: unknown) => request<T>("PATCH", path, body);
export const put = <T>(path: string, body: unknown) => request<T>("PUT", path, body);
export const del = <T>(path: string, body?: unknown) => request<T>("DELETE", path, body);

/** `GET` that answers `null` for a route this daemon does not have (404 on the path itself). */
export async function optional<T>(path: string): Promise<T | null> {
  try {
    return await get<T>(path);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404 && e.message.startsWith("no such API path")) return null;
    throw e;
  }
}

export const enc = encodeURIComponent;
