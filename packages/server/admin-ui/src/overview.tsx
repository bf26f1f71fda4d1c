/** @jsxImportSource preact */
import { useState } from 'preact/hooks';
import { api, type StatsSample } from './api.ts';
import { Chart, type Series } from './chart.tsx';
import { usePoll } from './hooks.ts';
import { bytes, num } from './format.ts';

const COLORS = ['#1f6feb', '#d1242f', '#1a7f37', '#9a6700'];

type Pick = (s: StatsSample) => number | null;
const CHARTS: Array<{ title: string; format: (v: number) => string; lines: Array<[string, Pick]> }> = [
  { title: 'Connections', format: num, lines: [['connections', (s) => s.connections], ['users', (s) => s.users], ['subscriptions', (s) => s.subscriptions]] },
  { title: 'Messages per second', format: num, lines: [['publications/s', (s) => s.publications], ['deliveries/s', (s) => s.deliveries]] },
  { title: 'Bytes per second', format: (v) => `${bytes(v)}/s`, lines: [['in', (s) => s.bytesIn], ['out', (s) => s.bytesOut]] },
  { title: 'Publish to delivery p99', format: (v) => `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`, lines: [['p99', (s) => s.p99]] },
];

/** Most error codes drawn as their own line; the rest are summed as "other". */
const TOP_CODES = 3;

/**
 * The error chart's lines: one per error code seen in the window (the most frequent
 * `TOP_CODES`, the rest as "other"), so the cause shows without `/metrics`; one line of all
 * errors while there are none.
 */
function errorLines(samples: StatsSample[]): Array<[string, Pick]> {
  const totals = new Map<string, number>();
  for (const s of samples) for (const [code, r] of Object.entries(s.errorsByCode ?? {})) totals.set(code, (totals.get(code) ?? 0) + r);
  if (totals.size === 0) return [['error replies/s', (s) => s.errors]];
  const codes = [...totals.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([c]) => c);
  const top = codes.slice(0, TOP_CODES);
  const lines: Array<[string, Pick]> = top.map((code) => [code, (s) => s.errorsByCode?.[code] ?? 0]);
  if (codes.length > TOP_CODES) lines.push(['other', (s) => Math.max(0, s.errors - top.reduce((a, c) => a + (s.errorsByCode?.[c] ?? 0), 0))]);
  return lines;
}

/** Live charts of the whole cluster or one node, and the current totals. */
export function OverviewPage() {
  const [scope, setScope] = useState('cluster');
  const { value, error } = usePoll(() => api.overview(), 2000);
  if (!value) return <section aria-busy="true"><h1>Overview</h1>{error ? <p role="alert" class="error">{error}</p> : <p>Loading…</p>}</section>;
  const node = value.nodes.find((n) => n.node.id === scope);
  const samples = scope === 'cluster' || !node ? value.cluster : node.samples;
  // The tiles show each node's latest sample, summed: the newest cluster point may hold only
  // the nodes that have sampled that instant so far (nodes sample on their own timers).
  const latest = scope === 'cluster' || !node ? value.nodes.map((n) => n.samples[n.samples.length - 1]).filter((s) => s !== undefined) : node.samples.slice(-1);
  const last = latest.length === 0 ? undefined : {
    connections: latest.reduce((a, s) => a + s.connections, 0),
    users: latest.reduce((a, s) => a + s.users, 0),
    channels: latest.reduce((a, s) => a + s.channels, 0),
    subscriptions: latest.reduce((a, s) => a + s.subscriptions, 0),
  };
  const times = samples.map((s) => s.t);
  return (
    <section>
      <div class="page-head">
        <h1>Overview</h1>
        <label class="inline">
          Show{' '}
          <select value={scope} onChange={(e) => setScope((e.target as HTMLSelectElement).value)}>
            <option value="cluster">Whole cluster ({value.nodes.length} {value.nodes.length === 1 ? 'node' : 'nodes'})</option>
            {value.nodes.map((n) => <option value={n.node.id} key={n.node.id}>Node {n.node.name} ({n.node.id})</option>)}
          </select>
        </label>
      </div>
      {error && <p role="alert" class="error">Update failed: {error}</p>}
      <dl class="tiles">
        <div><dt>Connections</dt><dd id="total-connections">{last ? num(last.connections) : '–'}</dd></div>
        <div><dt>Users</dt><dd>{last ? num(last.users) : '–'}</dd></div>
        <div><dt>Channels</dt><dd>{last ? num(last.channels) : '–'}</dd></div>
        <div><dt>Subscriptions</dt><dd>{last ? num(last.subscriptions) : '–'}</dd></div>
        <div><dt>Nodes</dt><dd id="total-nodes">{value.nodes.length}</dd></div>
        {value.outbox && (
          <div title={`Rows committed to ${value.outbox.table} and not yet published`}>
            <dt>Outbox lag</dt>
            <dd id="outbox-lag">{num(value.outbox.rows)} rows · {value.outbox.seconds < 10 ? value.outbox.seconds.toFixed(1) : Math.round(value.outbox.seconds)} s</dd>
          </div>
        )}
      </dl>
      <div class="charts">
        {[...CHARTS.slice(0, 3), { title: 'Errors per second, by code', format: num, lines: errorLines(samples) }, ...CHARTS.slice(3)].map((c) => {
          const series: Series[] = c.lines.map(([label, pick], i) => ({ label, color: COLORS[i % COLORS.length]!, values: samples.map(pick) }));
          return <Chart key={`${scope}:${c.title}`} title={c.title} times={times} series={series} format={c.format} />;
        })}
      </div>
      <p class="note">One sample every {value.intervalMs / 1000} s per node{scope === 'cluster' ? '; the cluster line sums the nodes (p99: the highest node)' : ''}.</p>
    </section>
  );
}
