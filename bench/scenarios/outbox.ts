/**
 * `npm run bench -- outbox [--seconds 5] [--writers 8] [--rate 500] [--channels 16] [--subscribers 4]`
 *
 * The transactional outbox against what PostgreSQL itself can do, on one PostgreSQL server the
 * bench starts on a free loopback port (Debian's `postgresql`; stopped when done):
 *
 * 1. Ceiling: `pgbench` runs the application's statement (`INSERT INTO switchboard_outbox
 *    (channel, data) VALUES (…)`, one row per transaction) with `--writers` clients for
 *    `--seconds`: the rows per second the database commits with nothing consuming them.
 * 2. Commit to delivery: a real gateway process (`switchboard serve --postgres …`, its history
 *    in a second database of the same server, the outbox in the first) with `--subscribers`
 *    WebSocket subscribers on `--channels` history channels; `--writers` connections insert
 *    rows at `--rate` rows/s in all, each its own transaction; each row's latency runs from
 *    the moment its COMMIT returned to the moment a subscriber received it (p50, p99).
 * 3. Sustained: the same writers unthrottled for `--seconds`: rows per second delivered to a
 *    subscriber, against the ceiling measured in step 1 (which had no consumer competing).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import WebSocket from 'ws';
import { startPostgres, type PostgresProcess } from '../../test/support/postgres.ts';
import { startGatewayProcess } from '../../test/support/gateway-process.ts';
import { SECRET, token } from '../../packages/server/test/helpers.ts';
import { outboxDdl } from '../../packages/server/src/outbox/outbox-ddl.ts';
import { num, type Comparison, type ScenarioContext, type ScenarioResult } from './types.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const channelName = (i: number) => `bench:c${i}`;

/** Rows per second `pgbench` commits with the application's INSERT (one row per transaction). */
async function ceiling(server: PostgresProcess, url: string, ctx: ScenarioContext, channels: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'sb-bench-pgbench-'));
  const script = join(dir, 'insert.sql');
  writeFileSync(script, `\\set c random(0, ${channels - 1})\nINSERT INTO switchboard_outbox (channel, data) VALUES ('bench:c' || :c, '{"text":"hello world","k":0}');\n`);
  const { chmodSync } = await import('node:fs');
  chmodSync(dir, 0o755);
  chmodSync(script, 0o644);
  const writers = num(ctx, 'writers', 8);
  try {
    const r = await server.tool('pgbench', ['-n', '-f', script, '-c', String(writers), '-j', String(Math.min(writers, 2)), '-T', String(num(ctx, 'seconds', 5)), url]);
    const tps = r.out.match(/tps = ([\d.]+)/);
    if (!tps) throw new Error(`pgbench failed: ${r.out.slice(-1000)}`);
    return Math.round(Number(tps[1]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A subscriber of every bench channel; calls `onRow(k)` for each row received. */
async function subscriber(wsUrl: string, user: string, channels: number, onRow: (k: number) => void): Promise<{ close(): void }> {
  const ws = new WebSocket(`${wsUrl}?token=${await token(user, { channels: ['bench:*'] })}`);
  await new Promise<void>((resolve, reject) => {
    let acks = 0;
    ws.on('message', (raw) => {
      const v = JSON.parse(raw.toString());
      for (const f of Array.isArray(v) ? v : [v]) {
        if (f.type === 'auth_success') for (let i = 0; i < channels; i++) ws.send(JSON.stringify({ type: 'subscribe', id: i, channel: channelName(i) }));
        else if (f.type === 'ack' && ++acks === channels) resolve();
        else if (f.type === 'message') onRow(f.data.k);
        else if (f.type === 'ping') ws.send('{"type":"pong"}');
        else if (f.type === 'auth_failed' || f.type === 'error') reject(new Error(JSON.stringify(f)));
      }
    });
    ws.once('error', reject);
  });
  return { close: () => ws.close() };
}

export async function outbox(ctx: ScenarioContext): Promise<ScenarioResult> {
  const seconds = num(ctx, 'seconds', 5);
  const writers = num(ctx, 'writers', 8);
  const rate = num(ctx, 'rate', 500);
  const channels = num(ctx, 'channels', 16);
  const subscribers = Math.max(1, num(ctx, 'subscribers', 4));
  ctx.log('starting PostgreSQL');
  const server = await startPostgres();
  const dir = mkdtempSync(join(tmpdir(), 'sb-bench-outbox-'));
  try {
    const app = await server.database('app');
    const backend = await server.database('switchboard');
    const admin = new pg.Client({ connectionString: app });
    await admin.connect();
    await admin.query(outboxDdl('switchboard_outbox'));
    const ceil = await ceiling(server, app, ctx, channels);
    ctx.log(`ceiling: pgbench commits ${ceil} rows/s (one INSERT per transaction, ${writers} clients, no consumer)`);
    await admin.query('TRUNCATE switchboard_outbox');
    writeFileSync(join(dir, 'c.json'), JSON.stringify({ namespaces: { '': {}, bench: { history: { size: 1000, ttl: '1h' }, allowSubscribe: true } } }));
    const gw = await startGatewayProcess({
      args: ['--config', join(dir, 'c.json'), '--postgres', backend, '--jwt-secret', SECRET],
      env: { SWITCHBOARD_OUTBOX_URL: app }, startTimeoutMs: 120_000,
    });
    const committedAt = new Map<number, number>();
    const latencies: number[] = [];
    let delivered = 0;
    const subs = [];
    try {
      for (let s = 0; s < subscribers; s++) {
        subs.push(await subscriber(gw.wsUrl, `sub${s}`, channels, (k) => {
          if (s !== 0) return;
          delivered++;
          const at = committedAt.get(k);
          if (at !== undefined) {
            latencies.push(performance.now() - at);
            committedAt.delete(k);
          }
        }));
      }
      const clients = await Promise.all(Array.from({ length: writers }, async () => {
        const c = new pg.Client({ connectionString: app });
        await c.connect();
        return c;
      }));
      let k = 0;
      /** Writers insert one row per transaction; `perSecond` 0: as fast as they can. */
      const write = async (ms: number, perSecond: number, timed: boolean) => {
        const until = performance.now() + ms;
        const gap = perSecond > 0 ? (1000 * writers) / perSecond : 0;
        await Promise.all(clients.map(async (c, w) => {
          let next = performance.now() + (gap * w) / writers;
          while (performance.now() < until) {
            if (gap > 0) {
              const wait = next - performance.now();
              if (wait > 0) await sleep(wait);
              next += gap;
            }
            const key = ++k;
            await c.query('INSERT INTO switchboard_outbox (channel, data) VALUES ($1, $2)', [channelName(key % channels), { text: 'hello world', k: key }]);
            if (timed) committedAt.set(key, performance.now());
          }
        }));
      };
      ctx.log(`commit to delivery: ${rate} rows/s for ${seconds} s`);
      await write(1000, rate, false);
      latencies.length = 0;
      await write(seconds * 1000, rate, true);
      await sleep(1000);
      const sorted = [...latencies].sort((a, b) => a - b);
      const pct = (p: number) => Math.round((sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN) * 10) / 10;
      const p50 = pct(0.5);
      const p99 = pct(0.99);
      ctx.log(`commit to delivery at ${rate} rows/s: p50 ${p50} ms, p99 ${p99} ms (${sorted.length} rows)`);
      ctx.log(`sustained: writers unthrottled for ${seconds} s`);
      committedAt.clear();
      await write(1000, 0, false);
      const d0 = delivered;
      const t0 = performance.now();
      await write(seconds * 1000, 0, false);
      const sustained = Math.round(((delivered - d0) * 1000) / (performance.now() - t0));
      const waiting = Number((await admin.query('SELECT count(*) AS n FROM switchboard_outbox')).rows[0].n);
      ctx.log(`sustained: ${sustained} rows/s delivered (${waiting} rows still waiting at the end)`);
      for (const c of clients) await c.end();
      await admin.end();
      const ratio = Math.round((sustained / ceil) * 100) / 100;
      const comparisons: Comparison[] = [
        { metric: 'PostgreSQL ceiling: pgbench INSERT, one row per transaction', unit: 'rows/s', higherIsBetter: true, values: { switchboard: ceil } },
        { metric: `commit to delivery p50 at ${rate} rows/s`, unit: 'ms', higherIsBetter: false, values: { switchboard: p50 } },
        { metric: `commit to delivery p99 at ${rate} rows/s`, unit: 'ms', higherIsBetter: false, values: { switchboard: p99 } },
        { metric: 'sustained: rows delivered', unit: 'rows/s', higherIsBetter: true, values: { switchboard: sustained } },
        { metric: 'sustained / ceiling', unit: 'ratio', higherIsBetter: true, values: { switchboard: ratio } },
      ];
      return {
        scenario: 'outbox',
        params: { seconds, writers, rate, channels, subscribers },
        peers: { switchboard: { ceiling: ceil, p50, p99, sustained, waitingAtEnd: waiting, ratio } },
        comparisons,
        notes: [
          `rows are published into history (PostgreSQL, the same server) and fanned out to ${subscribers} subscribers; the ceiling had no consumer competing for the server`,
          `${waiting} rows were still waiting when the sustained phase ended (the consumer drains them afterwards)`,
        ],
      };
    } finally {
      for (const s of subs) s.close();
      await gw.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await server.stop();
  }
}
