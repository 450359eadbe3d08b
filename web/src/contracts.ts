//! Names for the generated OpenAPI schemas of metrics, events and settings, shaped as the
//! pages use them: fields the daemon always sends (as a value or `null`) are required here,
//! and an event's `data` is an object whose shape depends on its `type`.

import type { S } from "./api";

export type Timeframe = S["Timeframe"];
/** The timeframes the charts offer (the API also has `decade`). */
export const TIMEFRAMES: Timeframe[] = ["hour", "day", "week", "month", "year"];

export type MetricsPoint = Required<S["MetricsPoint"]>;

export type MetricsAnswer = Omit<S["MetricsHistory"], "points"> & { points: MetricsPoint[] };

export type BerthEvent = Omit<S["WireEvent"], "data" | "instance" | "owner"> & {
  instance?: string | null;
  owner?: string | null;
  data: Record<string, unknown>;
};

/** A `null` limit means "no default": a create without that field is unlimited. */
export interface Settings {
  defaults: Required<S["InstanceDefaults"]>;
  metrics: Required<S["MetricsSettings"]>;
}
