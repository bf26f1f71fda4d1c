import { mkdirSync, writeFileSync } from 'node:fs';
import type { Peer } from '../load/clients.ts';
import type { Comparison, ScenarioResult } from '../scenarios/types.ts';
import type { MachineInfo } from './machine.ts';

/** Switchboard's value divided by the peer's (null when either is missing or zero). */
function ratio(c: Comparison, peer: Peer): number | null {
  const a = c.values.switchboard;
  const b = c.values[peer];
  if (a === null || a === undefined || b === null || b === undefined || b === 0) return null;
  return Math.round((a / b) * 100) / 100;
}

/** Whether a ratio meets its target (undefined when there is none). */
function meets(c: Comparison, peer: Peer): boolean | undefined {
  const t = c.targets?.[peer];
  const r = ratio(c, peer);
  if (!t || r === null) return undefined;
  return t.op === '>=' ? r >= t.ratio : t.op === '<=' ? r <= t.ratio : r < t.ratio;
}

const fmt = (v: number | null | undefined) => (v === null || v === undefined ? '—' : v >= 10_000 ? Math.round(v).toLocaleString('en-US') : String(v));

/** The comparison table as Markdown: values per peer, then Switchboard's ratio to each peer. */
export function table(r: ScenarioResult, peers: Peer[]): string {
  const others = peers.filter((p) => p !== 'switchboard');
  const head = ['metric', ...peers, ...(peers.includes('switchboard') ? others.map((p) => `switchboard/${p}`) : [])];
  const rows = r.comparisons.map((c) => {
    const ratios = peers.includes('switchboard') ? others.map((p) => {
      const x = ratio(c, p);
      const t = c.targets?.[p];
      const ok = meets(c, p);
      return `${x === null ? '—' : `${x}x`}${t ? ` (target ${t.op} ${t.ratio}x ${ok === undefined ? '?' : ok ? '✓' : '✗'})` : ''}`;
    }) : [];
    return [`${c.metric} [${c.unit}]`, ...peers.map((p) => fmt(c.values[p])), ...ratios];
  });
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Writes the run's JSON file under bench/results/; returns its path. */
export function writeResult(r: ScenarioResult, machine: MachineInfo, extra: Record<string, unknown>): string {
  const dir = new URL('../results/', import.meta.url).pathname;
  mkdirSync(dir, { recursive: true });
  const when = new Date().toISOString();
  const file = `${dir}${r.scenario}-${when.replace(/[:.]/g, '-')}.json`;
  const ratios = r.comparisons.map((c) => ({
    metric: c.metric,
    ...Object.fromEntries((['socketio', 'ws'] as Peer[]).map((p) => [`switchboard/${p}`, ratio(c, p)])),
    targetsMet: Object.fromEntries((['socketio', 'ws'] as Peer[]).filter((p) => c.targets?.[p]).map((p) => [p, meets(c, p)])),
  }));
  writeFileSync(file, JSON.stringify({ date: when, machine, ...extra, ...r, ratios }, null, 2));
  return file;
}
