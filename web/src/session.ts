//! Who is signed in (`GET /auth/me`), shared by every page.

import { get, setCsrf, type Me } from "./api";

let me: Me | null = null;

export function current(): Me | null {
  return me;
}

export function isAdmin(): boolean {
  return me?.user.role === "admin";
}

/** Reads `/auth/me`; `null` when not signed in. */
export async function load(): Promise<Me | null> {
  try {
    me = await get<Me>("/auth/me");
    setCsrf(me.csrf_token);
  } catch {
    me = null;
  }
  return me;
}

export function clear(): void {
  me = null;
  setCsrf(null);
}
