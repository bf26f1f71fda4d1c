import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresProcess } from './support/postgres.ts';
import { startGatewayProcess, type GatewayProcess } from './support/gateway-process.ts';
import { waitFor } from './support/ports.ts';
import { RawClient, SECRET, connectAuthed } from '../packages/server/test/helpers.ts';

/**
 * The transactional outbox, end to end: an application's transactions (some rolled back)
 * insert rows into a table in its own database; gateway processes (on PostgreSQL as their
 * cluster backend, another database) publish what was committed. A gateway is killed with
 * SIGKILL and restarted meanwhile; two gateways share one table.
 */
const CLI = fileURLToPath(new URL('../packages/server/src/cli.ts', import.meta.url));
const CONFIG = {
  namespaces: { '': {}, orders: { history: { size: 10_000, ttl: '1h' }, allowSubscribe: true } },
  shutdown: { reconnectSpreadMs: 0 },
};
const API_KEY = 'outbox-api-key-0123456789';

let server: PostgresProcess;
let appUrl: string;
let args: string[];
let env: Record<string, string>;
const gateways: GatewayProcess[] = [];

beforeAll(async () => {
  server = await startPostgres();
  appUrl = await server.database('app');
  const backend = await server.database('switchboard');
  const dir = mkdtempSync(join(tmpdir(), 'sb-outbox-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(CONFIG));
  args = ['--config', join(dir, 'config.json'), '--postgres', backend, '--jwt-secret', SECRET, '--api-key', API_KEY];
  // Fast safety-net poll: the test must not depend on notifications alone.
  env = { SWITCHBOARD_OUTBOX_URL: appUrl };
}, 60_000);

afterAll(async () => {
  await Promise.all(gateways.map((g) => g.kill()));
  await server?.stop();
});

const app = async () => {
  const c = new pg.Client({ connectionString: appUrl });
  await c.connect();
  return c;
};
const messages = (c: RawClient, channel: string) => c.frames.filter((f) => f.type === 'message' && f.channel === channel);
const metric = async (g: GatewayProcess, name: string) => {
  const text = await (await fetch(`${g.url}/metrics`)).text();
  return Number(text.match(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, "m"))?.[1] ?? 0);
};

describe('transactional outbox', () => {
  it('`switchboard outbox init` creates the table, its dead-letter table and trigger, prints the DDL, and can run again', () => {
    for (let i = 0; i < 2; i++) {
      const r = spawnSync(process.execPath, [CLI, 'outbox', 'init', '--url', appUrl], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain('CREATE TABLE IF NOT EXISTS switchboard_outbox (');
      expect(r.stdout).toContain('CREATE TRIGGER switchboard_outbox_notify');
    }
    const bad = spawnSync(process.execPath, [CLI, 'outbox', 'init', '--url', appUrl, '--table', 'Bad Name'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/outbox\.table "Bad Name" must be a lower-case table name/);
  });

  it('500 rows in 50 transactions, 10 rolled back, a gateway SIGKILLed and restarted meanwhile: exactly the committed rows, once each, in order per channel, stored once', async () => {
    const gw = await startGatewayProcess({ args, env });
    gateways.push(gw);
    const channels = ['orders:a', 'orders:b', 'orders:c', 'orders:d', 'orders:e'];
    let sub = await connectAuthed(gw.wsUrl, 'watcher', { channels: ['orders:*'] });
    const firstAcks = await Promise.all(channels.map((ch) => sub.request({ type: 'subscribe', channel: ch })));
    const committed = new Map<string, number[]>(channels.map((ch) => [ch, []]));
    // One writer per channel, each a sequence of transactions: 10 per writer, 2 of them rolled back.
    let tx = 0;
    const writer = async (ch: string, from: number, to: number) => {
      const c = await app();
      try {
        for (let t = from; t < to; t++) {
          const id = tx++;
          const rollback = t % 5 === 3;
          await c.query('BEGIN');
          for (let r = 0; r < 10; r++) {
            await c.query('INSERT INTO switchboard_outbox (channel, data) VALUES ($1, $2)', [ch, { tx: id, t, r, rolledBack: rollback }]);
          }
          if (rollback) await c.query('ROLLBACK');
          else {
            await c.query('COMMIT');
            for (let r = 0; r < 10; r++) committed.get(ch)!.push(t * 10 + r);
          }
        }
      } finally {
        await c.end();
      }
    };
    const seenData = () => channels.flatMap((ch) => messages(sub, ch));
    // Phase 1: four transactions per channel while the gateway runs.
    await Promise.all(channels.map((ch) => writer(ch, 0, 4)));
    await waitFor(() => seenData().length >= 100, 20_000, 'the first rows delivered');
    // Kill it while it consumes; phase 2 commits while it is dead; restart; phase 3.
    const killing = gw.kill();
    await Promise.all(channels.map((ch) => writer(ch, 4, 7)));
    await killing;
    const before = new Map(channels.map((ch) => [ch, messages(sub, ch)]));
    await sub.closedP;
    await gw.restart();
    await Promise.all(channels.map((ch) => writer(ch, 7, 10)));
    expect(tx).toBe(50);
    // The subscriber comes back and recovers from where it was, then hears the rest live.
    sub = await connectAuthed(gw.wsUrl, 'watcher', { channels: ['orders:*'] });
    const got = new Map<string, any[]>();
    for (const [i, ch] of channels.entries()) {
      const seen = before.get(ch)!;
      const since = seen.length ? { epoch: seen.at(-1).epoch, offset: seen.at(-1).offset } : { epoch: firstAcks[i].epoch, offset: firstAcks[i].offset };
      const ack = await sub.request({ type: 'subscribe', channel: ch, since });
      expect(ack.recovered).toBe(true);
      got.set(ch, [...seen, ...ack.publications]);
    }
    const total = () => channels.reduce((n, ch) => n + got.get(ch)!.length + messages(sub, ch).length, 0);
    await waitFor(() => total() === 400, 30_000, 'every committed row delivered');
    for (const ch of channels) {
      const all = [...got.get(ch)!, ...messages(sub, ch)];
      // Exactly the committed rows, once each, in commit order; nothing of a rolled-back transaction.
      expect(all.map((m) => m.data.t * 10 + m.data.r)).toEqual(committed.get(ch));
      expect(all.some((m) => m.data.rolledBack)).toBe(false);
      // Stored once: the stream holds 80 publications, offsets 1..80.
      expect(all.map((m) => m.offset)).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
      const h = await sub.request({ type: 'history', channel: ch, limit: 1000 });
      expect(h.publications.map((p: any) => p.data.t * 10 + p.data.r)).toEqual(committed.get(ch));
    }
    const c = await app();
    expect((await c.query('SELECT count(*)::int AS n FROM switchboard_outbox')).rows[0].n).toBe(0);
    await c.end();
    sub.close();
  }, 120_000); // a gateway process killed and started again: slow on a loaded machine

  it('two gateways consuming one table publish each row once, in order per channel; a bad row is moved aside and blocks nothing', async () => {
    const a = gateways[0]!;
    const b = await startGatewayProcess({ args, env });
    gateways.push(b);
    const publishedBefore = (await metric(a, 'switchboard_outbox_published_total')) || 0;
    const sub = await connectAuthed(b.wsUrl, 'watcher2', { channels: ['orders:*'] });
    const channels = ['orders:p', 'orders:q', 'orders:r', 'orders:s'];
    for (const ch of channels) await sub.request({ type: 'subscribe', channel: ch });
    const c = await app();
    try {
      // 50 transactions of 4 rows over the four channels, and two rows no gateway can publish.
      for (let t = 0; t < 50; t++) {
        await c.query('BEGIN');
        for (const [i, ch] of channels.entries()) await c.query('INSERT INTO switchboard_outbox (channel, data) VALUES ($1, $2)', [ch, { t, i }]);
        if (t === 10) await c.query(`INSERT INTO switchboard_outbox (channel, data) VALUES ('nowhere:x', '{"lost":true}'), ('bad channel', '1')`);
        await c.query('COMMIT');
      }
      await waitFor(() => channels.every((ch) => messages(sub, ch).length === 50), 30_000, 'every row delivered');
      for (const ch of channels) expect(messages(sub, ch).map((m) => m.data.t)).toEqual(Array.from({ length: 50 }, (_, t) => t));
      const dead = (await c.query('SELECT channel, reason FROM switchboard_outbox_dead ORDER BY id')).rows;
      expect(dead.map((d) => d.channel)).toEqual(['nowhere:x', 'bad channel']);
      expect(dead[0].reason).toMatch(/namespace/);
      // Each row published by one gateway: the two counts add up to the rows, not more.
      await waitFor(async () => (await metric(a, 'switchboard_outbox_published_total')) - publishedBefore + ((await metric(b, 'switchboard_outbox_published_total')) || 0) === 200, 10_000, 'the published counts');
      expect((await metric(a, 'switchboard_outbox_dead_letters_total')) + (await metric(b, 'switchboard_outbox_dead_letters_total'))).toBe(2);
      // The lag is read at most once a second: it reaches 0 once the table is empty.
      await waitFor(async () => (await metric(b, 'switchboard_outbox_lag_rows')) === 0 && (await metric(a, 'switchboard_outbox_lag_seconds')) === 0, 10_000, 'no lag');
      expect((await c.query('SELECT count(*)::int AS n FROM switchboard_outbox')).rows[0].n).toBe(0);
    } finally {
      await c.end();
      sub.close();
    }
  }, 120_000);
});
