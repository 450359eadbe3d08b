//! Types of the endpoints agreed in the team's contracts (metrics, events, settings, alerts)
//! that this branch's openapi/berth.json does not describe yet. Once the merged OpenAPI file
//! has them, these become aliases of the generated `components["schemas"]` entries.

export type Timeframe = "hour" | "day" | "week" | "month" | "year";
export const TIMEFRAMES: Timeframe[] = ["hour", "day", "week", "month", "year"];

export interface MetricsPoint {
  time: number;
  cpu_percent: number | null;
  memory_bytes: number | null;
  memory_limit_bytes: number | null;
  memory_cache_bytes: number | null;
  disk_bytes: number | null;
  disk_limit_bytes: number | null;
  net_rx_bytes_per_s: number | null;
  net_tx_bytes_per_s: number | null;
  processes: number | null;
}

export interface MetricsAnswer {
  timeframe: Timeframe;
  cf: "avg" | "max";
  resolution: number;
  points: MetricsPoint[];
}

export interface BerthEvent {
  type: "operation" | "lifecycle" | "metrics" | "notice";
  instance?: string;
  owner?: string;
  time: string;
  data: Record<string, unknown>;
}

export interface Settings {
  /** A `null` limit means "no default": a create without that field is unlimited. */
  defaults: {
    image: string;
    cpu: number | null;
    memory: number | null;
    disk: number | null;
    processes: number | null;
    autostart: boolean;
  };
  metrics: { interval_seconds: number; retention: string };
}
