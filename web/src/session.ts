//! Who is signed in, shared by every page: `GET /auth/session` answers without a 401 whether
//! this browser has a session (so a cold load fails no request), and says when a stale cookie
//! came along that a refresh may renew.

import { get, setCsrf, type Me, type S } from "./api";

let me: Me | null = null;
let expired = false;

export function current(): Me | null {
  return me;
}

export function isAdmin(): boolean {
  return me?.user.role === "admin";
}

/** Whether the last `load` found a session cookie that is no longer valid. */
export function lastExpired(): boolean {
  return expired;
}

/** Reads the session; `null` when not signed in (or berthd cannot be reached). */
export async function load(): Promise<Me | null> {
  try {
    const s = await get<S["SessionStatus"]>("/auth/session");
    expired = s.expired;
    me = s.me ?? null;
    setCsrf(me?.csrf_token);
  } catch {
    me = null;
  }
  return me;
}

/** Reads the caller's usage again (after they created or deleted something). */
export async function reload(): Promise<Me | null> {
  const fresh = await get<Me>("/auth/me");
  me = { ...fresh, csrf_token: fresh.csrf_token ?? me?.csrf_token };
  return me;
}

export function clear(): void {
  me = null;
  setCsrf(null);
}
