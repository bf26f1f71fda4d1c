import { createServer, connect, type Server, type Socket } from 'node:net';
import { readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from './run.ts';
import { FaultProxy } from './lib/fault-proxy.ts';
import { countDeliveries } from './scenarios/chaos.ts';
import type { ChaosSubscriber } from './lib/chaos-clients.ts';
import { waitFor } from '../test/support/ports.ts';

/**
 * Keeps `npm run bench -- chaos` from rotting (counts, never speed): the fault proxy does
 * what each fault says, the counting tells loss, duplicates and reordering apart, and a short
 * run end to end finds Switchboard delivering every acknowledged publication exactly once and
 * in order through a kill -9, while the peers' rows are measured through resets.
 */

/** An echo server that also remembers its sockets. */
let echo: Server;
let echoPort = 0;
const serverSockets: Socket[] = [];
beforeAll(async () => {
  echo = createServer((s) => { serverSockets.push(s); s.on('error', () => {}); s.pipe(s); });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  echoPort = (echo.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((r) => { for (const s of serverSockets) s.destroy(); echo.close(() => r()); }));

/** A client through the proxy: everything it received, and how it ended. */
async function client(proxy: FaultProxy): Promise<{ s: Socket; got: () => string; ended: () => string | undefined }> {
  const s = connect(proxy.port, '127.0.0.1');
  let got = '';
  let ended: string | undefined;
  s.on('data', (d) => (got += d));
  s.on('error', (e: NodeJS.ErrnoException) => { ended = e.code ?? 'error'; });
  s.on('close', () => { ended ??= 'closed'; });
  await new Promise((r) => s.once('connect', r));
  return { s, got: () => got, ended: () => ended };
}

describe('chaos fault proxy', () => {
  it('forwards, holds bytes through a stall and delivers them after it in order, resets both ends', async () => {
    const proxy = await new FaultProxy(() => [{ host: '127.0.0.1', port: echoPort }]).start();
    try {
      const c = await client(proxy);
      c.s.write('a');
      await waitFor(() => c.got() === 'a', 10_000, 'echo through the proxy');
      proxy.stall(300);
      c.s.write('b');
      c.s.write('c');
      await waitFor(() => c.got() === 'abc', 10_000, 'the bytes sent during the stall, after it');
      proxy.rst();
      await waitFor(() => c.ended() === 'ECONNRESET', 10_000, 'a reset');
      expect(proxy.connects.length).toBe(1);
    } finally {
      await proxy.close();
    }
  });

  it('drops silently (no byte, no close), refuses while offline and resets the client side only', async () => {
    const proxy = await new FaultProxy(() => [{ host: '127.0.0.1', port: echoPort }]).start();
    try {
      const dropped = await client(proxy);
      proxy.drop();
      dropped.s.write('lost');
      // A later connection does a round trip: the dropped one's bytes had every chance to come back.
      const other = await client(proxy);
      other.s.write('x');
      await waitFor(() => other.got() === 'x', 10_000, 'a round trip on a new connection');
      expect(dropped.got()).toBe('');
      expect(dropped.ended()).toBeUndefined();

      const serversBefore = serverSockets.filter((s) => !s.destroyed).length;
      proxy.offline(true);
      await waitFor(() => other.ended() === 'ECONNRESET', 10_000, 'the client side reset');
      expect(serverSockets.filter((s) => !s.destroyed).length).toBe(serversBefore); // the server heard nothing
      const refused = connect(proxy.port, '127.0.0.1');
      refused.on('error', () => {});
      await new Promise((r) => refused.once('close', r));
      proxy.offline(false);
      const back = await client(proxy);
      back.s.write('y');
      await waitFor(() => back.got() === 'y', 10_000, 'a connection once back online');
    } finally {
      await proxy.close();
    }
  });

  it('adds latency and loss without reordering bytes', async () => {
    const proxy = await new FaultProxy(() => [{ host: '127.0.0.1', port: echoPort }]).start();
    try {
      proxy.shape({ delayMs: 5, jitterMs: 5, loss: 0.3 });
      const c = await client(proxy);
      const sent = Array.from({ length: 40 }, (_, i) => `<${i}>`).join('');
      for (let i = 0; i < 40; i++) c.s.write(`<${i}>`);
      await waitFor(() => c.got().length === sent.length, 20_000, 'every byte');
      expect(c.got()).toBe(sent);
    } finally {
      await proxy.close();
    }
  });
});

describe('chaos counting', () => {
  it('tells delivered once, lost, duplicated and reordered apart', () => {
    const sub = (arrivals: number[]): ChaosSubscriber => ({ room: 'r', arrivals, distinct: new Set(arrivals), gaps: 0, ready: Promise.resolve(), close: () => {} });
    const acked = new Map([['r', new Set([1, 2, 3, 4, 5])]]);
    expect(countDeliveries([sub([1, 2, 3, 4, 5])], acked)).toMatchObject({ acked: 5, deliveredOnce: 5, lost: 0, duplicated: 0, reordered: 0 });
    // 1 and 5 once; 2 lost, 3 twice, 4 after 5; 6 (never acknowledged) arrived and is owed to no one.
    expect(countDeliveries([sub([1, 3, 3, 5, 4, 6])], acked)).toMatchObject({ acked: 5, deliveredOnce: 2, lost: 1, duplicated: 1, reordered: 1 });
  });
});

describe('npm run bench -- chaos (short)', () => {
  it('Switchboard delivers every acknowledged publication once and in order through a kill -9; the peers are measured through resets', async () => {
    const [sb, peers] = await Promise.all([
      main(['chaos', '--peers', 'switchboard', '--faults', 'kill', '--seconds', '3', '--rooms', '1', '--subscribers', '2', '--rate', '10', '--heartbeat', '1000', '--settle', '60', '--quiet']),
      main(['chaos', '--peers', 'socketio,ws', '--faults', 'reset', '--seconds', '2', '--rooms', '1', '--subscribers', '2', '--rate', '10', '--settle', '3', '--quiet']),
    ]);
    const files: string[] = [];
    try {
      for (const file of [sb, peers]) {
        const r = JSON.parse(readFileSync(file, 'utf8'));
        files.push(file, r.params.table, r.params.plot);
        expect(r.scenario).toBe('chaos');
        expect(readFileSync(r.params.plot).subarray(1, 4).toString()).toBe('PNG');
        for (const row of r.results) {
          expect(Object.keys(row).sort()).toEqual(['acked', 'deliveredOnce', 'duplicated', 'fault', 'lost', 'peer', 'recoverMs', 'reordered']);
          expect(row.acked, JSON.stringify(row)).toBeGreaterThan(0);
          expect(row.deliveredOnce + row.lost).toBeLessThanOrEqual(row.acked);
        }
      }
      const rows = JSON.parse(readFileSync(sb, 'utf8')).results;
      expect(rows.map((x: { fault: string }) => x.fault)).toEqual(['kill']);
      for (const row of rows) {
        expect(row, JSON.stringify(row)).toMatchObject({ peer: 'switchboard', lost: 0, duplicated: 0, reordered: 0, deliveredOnce: row.acked });
        expect(row.recoverMs).not.toBeNull();
      }
      const others = JSON.parse(readFileSync(peers, 'utf8')).results;
      expect(others.map((x: { peer: string }) => x.peer)).toEqual(['socketio', 'ws']);
    } finally {
      for (const f of files) rmSync(f, { force: true });
    }
  }, 150_000);
});
