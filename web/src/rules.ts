//! Client-side checks from the rules the OpenAPI description declares (src/gen/rules.ts,
//! generated at build time): patterns, minimum/maximum, lengths and enums are never written
//! here by hand. A field in a unit (MiB, GiB) is checked in bytes and its message speaks the
//! unit. Bounds the schema cannot know (what the host has, what a quota leaves) come in as
//! extra limits with their reason.

import { RULES, type Rule } from "./gen/rules";
import { bytes } from "./dom";

/** `"Limits.memory"` → its rule (empty when the schema declares none). */
export function rule(key: string): Rule {
  return RULES[key] ?? {};
}

/** The values an enum schema allows, e.g. `choices("ForwardProtocol")`. */
export { ENUMS } from "./gen/rules";

export interface NumberCheck {
  /** The input's unit in the schema's unit (MiB → 1048576 for a byte field). */
  scale?: number;
  /** Shows a value in the schema's unit (bytes → "64 MiB"). */
  show?: (n: number) => string;
  /** Bounds from elsewhere, each with its reason ("the host has 2 CPUs"). */
  max?: { value: number; why: string }[];
  required?: boolean;
}

/** Sets `min`, `max` and `step` on a number input from the rule (in the input's unit). */
export function constrain(input: HTMLInputElement, key: string, opts: NumberCheck = {}): void {
  const r = rule(key);
  const scale = opts.scale ?? 1;
  if (r.minimum !== undefined) input.min = String(+(r.minimum / scale).toFixed(2));
  const maxes = [r.maximum, ...(opts.max ?? []).map((m) => m.value)].filter((m): m is number => m !== undefined);
  if (maxes.length) input.max = String(Math.floor((Math.min(...maxes) / scale) * 100) / 100);
}

/** `null` when `raw` (as typed, in the input's unit) passes, else what is wrong. */
export function checkNumber(key: string, raw: string, opts: NumberCheck = {}): string | null {
  const r = rule(key);
  const text = raw.trim();
  if (!text) return opts.required ? "give a value" : null;
  const n = Number(text);
  if (!Number.isFinite(n)) return `"${text}" is not a number`;
  const value = n * (opts.scale ?? 1);
  const show = opts.show ?? ((v: number) => String(+v.toFixed(2)));
  if (r.type === "integer" && !opts.scale && !Number.isInteger(n)) return "give a whole number";
  if (r.minimum !== undefined && value < r.minimum) return `${show(value)} is too little; give at least ${show(r.minimum)}`;
  if (r.maximum !== undefined && value > r.maximum) return `${show(value)} is too much; give at most ${show(r.maximum)}`;
  for (const m of opts.max ?? []) if (value > m.value) return `${show(value)} is more than ${m.why}`;
  return null;
}

/** Checks text against the rule; `form` describes the allowed form for a pattern mismatch. */
export function checkText(key: string, raw: string, form = "it is not in the allowed form", required = false): string | null {
  const r = rule(key);
  if (!raw) return required ? "give a value" : null;
  const length = [...raw].length;
  if (r.minLength !== undefined && length < r.minLength) return `is too short; give at least ${r.minLength} characters`;
  if (r.maxLength !== undefined && length > r.maxLength) return `is too long; give at most ${r.maxLength} characters`;
  if (r.pattern && !new RegExp(r.pattern, "v").test(raw)) return form;
  if (r.enum && !r.enum.includes(raw)) return `use one of ${r.enum.join(", ")}`;
  return null;
}

/** Byte fields shown in MiB or GiB. */
export const inMiB: NumberCheck = { scale: 1024 ** 2, show: bytes };
export const inGiB: NumberCheck = { scale: 1024 ** 3, show: bytes };

/** What an instance-like name may look like, for the message when it does not match. */
export const NAME_FORM = "use 1–63 lowercase letters, digits and '-', not starting or ending with '-', not all digits";
