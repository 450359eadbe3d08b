//! The API client: same-origin fetch with the session cookie, the CSRF header on writes, typed
//! helpers over the types generated from openapi/berth.json, and uploads with progress. While
//! the link to berthd is down (link.ts) calls fail at once with an `unreachable` ApiError
//! instead of trying the network; a call that finds the daemon gone reports it to the link.

import type { components } from "./gen/api";

export type S = components["schemas"];
export type Instance = S["Instance"];
export type Operation = S["Operation"];
export type Me = S["Me"];

/** An error answer: `{"error": {"code", "message", "field"}}` plus the HTTP status (0: berthd
 *  could not be reached). */
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

export const UNREACHABLE = "berthd is unreachable; nothing was changed. Try again when it is back.";

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

/** The link's view of the daemon: whether to try the network, and whom to tell it failed. */
let reachable: () => boolean = () => true;
let lost: () => void = () => {};
export function linkHooks(isUp: () => boolean, onLost: () => void): void {
  reachable = isUp;
  lost = onLost;
}

/** Whether this browser signed in (the cookies are HttpOnly): only then is a refresh worth trying. */
const SIGNED_IN = "berth-signed-in";
export function markSignedIn(yes: boolean): void {
  if (yes) localStorage.setItem(SIGNED_IN, "1");
  else localStorage.removeItem(SIGNED_IN);
}

let refreshing: Promise<boolean> | null = null;
/** Renews the session with the refresh cookie (once at a time); false when it cannot. Only
 *  tried when this browser signed in, or `stale` (the daemon saw an expired session cookie). */
export async function refreshSession(stale = false): Promise<boolean> {
  if (!stale && !localStorage.getItem(SIGNED_IN)) return false;
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

function errorOf(status: number, data: unknown): ApiError {
  const e = (data as S["ErrorBody"] | null)?.error;
  return new ApiError(status, e?.code ?? "http", e?.message ?? `HTTP ${status}`, e?.field ?? null);
}

export async function request<T>(method: string, path: string, body?: unknown, retry = true): Promise<T> {
  if (!reachable()) throw new ApiError(0, "unreachable", UNREACHABLE);
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && csrf) headers["x-csrf-token"] = csrf;
  let r: Response;
  try {
    r = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    lost();
    throw new ApiError(0, "unreachable", UNREACHABLE);
  }
  // The access cookie lasts 15 minutes; the refresh cookie renews it once, silently.
  if (r.status === 401 && retry && path !== "/auth/login" && path !== "/auth/refresh") {
    if (await refreshSession()) return request<T>(method, path, body, false);
    if (!path.startsWith("/auth/")) onUnauthorized();
  }
  if (r.status === 204) return undefined as T;
  let data: unknown = null;
  try {
    const text = await r.text();
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!r.ok) throw errorOf(r.status, data);
  return data as T;
}

export const get = <T>(path: string) => request<T>("GET", path);
export const post = <T>(path: string, body: unknown = {}) => request<T>("POST", path, body);
export const patch = <T>(path: string, body: unknown) => request<T>("PATCH", path, body);
export const put = <T>(path: string, body: unknown) => request<T>("PUT", path, body);
export const del = <T>(path: string, body?: unknown) => request<T>("DELETE", path, body);

/** Sends `file` as the body of `POST path` (an archive), reporting the bytes sent so far. */
export function upload<T>(path: string, file: Blob, type: string, progress: (sent: number, total: number) => void): Promise<T> {
  if (!reachable()) return Promise.reject(new ApiError(0, "unreachable", UNREACHABLE));
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/v1${path}`);
    xhr.setRequestHeader("content-type", type);
    xhr.setRequestHeader("accept", "application/json");
    if (csrf) xhr.setRequestHeader("x-csrf-token", csrf);
    xhr.upload.onprogress = (e) => progress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onerror = () => {
      lost();
      reject(new ApiError(0, "unreachable", "the upload broke off: berthd is unreachable"));
    };
    xhr.onload = () => {
      let data: unknown = null;
      try {
        data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        data = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data as T);
      else reject(errorOf(xhr.status, data));
    };
    xhr.send(file);
  });
}

export const enc = encodeURIComponent;

/** The error's message, for a toast or a line under a form. */
export function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
