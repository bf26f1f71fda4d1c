import type { Peer } from '../load/clients.ts';
import type { RunOptions } from '../lib/cluster.ts';

/** One comparison line of the results table: a metric per peer and how Switchboard compares. */
export interface Comparison {
  metric: string;
  unit: string;
  /** True when a larger value is better (throughput); false for latency and memory. */
  higherIsBetter: boolean;
  values: Partial<Record<Peer, number | null>>;
  /** Targets from issue 9, as ratio Switchboard / peer. */
  targets?: Partial<Record<Peer, { op: '>=' | '<=' | '<'; ratio: number }>>;
}

/** What a scenario returns: raw per-peer results for the JSON file and the comparison lines. */
export interface ScenarioResult {
  scenario: string;
  params: Record<string, unknown>;
  peers: Partial<Record<Peer, unknown>>;
  comparisons: Comparison[];
  notes: string[];
  /** Rows a scenario reports beside its comparisons (chaos: one per peer and fault). */
  results?: unknown[];
  /** Anything else a scenario keeps in its result file (chaos: every row's detail, completeness over time). */
  detail?: unknown;
  timelines?: unknown;
}

export interface ScenarioContext extends RunOptions {
  peers: Peer[];
  args: Record<string, string | boolean | undefined>;
}

/** A numeric flag with a default. */
export function num(ctx: ScenarioContext, name: string, dflt: number): number {
  const v = ctx.args[name];
  if (v === undefined || v === true || v === false) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number, got ${JSON.stringify(v)}`);
  return n;
}

/** A comma-separated list of numbers flag with a default. */
export function nums(ctx: ScenarioContext, name: string, dflt: number[]): number[] {
  const v = ctx.args[name];
  if (typeof v !== 'string') return dflt;
  const out = v.split(',').map(Number);
  if (out.some((n) => !Number.isFinite(n) || n <= 0)) throw new Error(`--${name} must be comma-separated positive numbers, got ${JSON.stringify(v)}`);
  return out;
}
