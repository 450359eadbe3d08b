//! The colour theme: the system's (`prefers-color-scheme`) until the user picks dark or light
//! in Settings → Defaults (kept in this browser). Charts read the resolved colours.

const KEY = "berth-theme";
export type Theme = "system" | "dark" | "light";
const query = matchMedia("(prefers-color-scheme: dark)");
const listeners = new Set<() => void>();

export function chosen(): Theme {
  const t = localStorage.getItem(KEY);
  return t === "dark" || t === "light" ? t : "system";
}

/** The theme in effect. */
export function effective(): "dark" | "light" {
  const t = chosen();
  return t === "system" ? (query.matches ? "dark" : "light") : t;
}

export function applyTheme(): void {
  document.documentElement.dataset.theme = effective();
  listeners.forEach((f) => f());
}

export function choose(t: Theme): void {
  if (t === "system") localStorage.removeItem(KEY);
  else localStorage.setItem(KEY, t);
  applyTheme();
}

/** Calls `f` when the theme in effect changes; returns the unsubscribe function. */
export function onTheme(f: () => void): () => void {
  listeners.add(f);
  return () => listeners.delete(f);
}

query.addEventListener("change", () => {
  if (chosen() === "system") applyTheme();
});

/** A CSS colour (`var(--text)`) resolved to `rgb(…)`, for canvas drawing. */
export function color(css: string): string {
  const probe = document.createElement("span");
  probe.style.color = css;
  probe.style.display = "none";
  document.body.append(probe);
  const value = getComputedStyle(probe).color;
  probe.remove();
  return value;
}
