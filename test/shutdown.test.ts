import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tcpConnect } from 'node:net';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startGatewayProcess } from './support/gateway-process.ts';
import { waitFor } from './support/ports.ts';
import { RawClient, connectAuthed, startGateway } from '../packages/server/test/helpers.ts';

const SECRET = 'shutdown-secret-0123456789abcdef';

function handshake(url: string): Promise<number | string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.once('open', () => { ws.terminate(); resolve(101); });
    ws.once('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); res.resume(); ws.terminate(); });
    ws.once('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? err.message));
  });
}

describe('graceful shutdown', () => {
  it('SIGTERM: every client gets 3001 with a jittered reconnectAfterMs, stores flush, exit 0 within shutdown.timeoutMs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-shutdown-'));
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({
      storage: 'memory',
      auth: { jwtSecret: SECRET },
      namespaces: { chat: { history: { size: 100, ttl: '1h' } } },
      shutdown: { timeoutMs: 4000, reconnectSpreadMs: 3000 },
    }));
    const gw = await startGatewayProcess({ args: ['--config', config], env: { SWITCHBOARD_LOG_LEVEL: 'info' } });
    const { mintToken } = await import('../packages/server/src/index.ts');
    const clients: RawClient[] = [];
    for (let i = 0; i < 12; i++) {
      const t = await mintToken({ sub: `u${i}`, secret: SECRET, channels: ['chat:*'], ttlSec: 600 });
      const c = new RawClient(`${gw.wsUrl}?token=${t}`);
      await c.next((f) => f.type === 'auth_success');
      expect((await c.request({ type: 'subscribe', channel: 'chat:room' })).type).toBe('ack');
      clients.push(c);
    }
    const exitCode = await gw.stop();
    expect(exitCode).toBe(0); // the force-exit timer (shutdown.timeoutMs) exits 1
    const delays: number[] = [];
    for (const c of clients) {
      expect(await c.waitClose()).toBe(3001);
      const d = c.frames.find((f) => f.type === 'disconnect');
      expect(d).toMatchObject({ code: 3001, reason: 'shutdown' });
      expect(d.reconnectAfterMs).toBeGreaterThanOrEqual(0);
      expect(d.reconnectAfterMs).toBeLessThan(3000);
      delays.push(d.reconnectAfterMs);
    }
    expect(new Set(delays).size).toBeGreaterThan(1); // spread, not one thundering herd
    expect(gw.output()).toContain('shutdown complete: clients told, stores flushed');
    expect(await handshake(gw.wsUrl)).toBe('ECONNREFUSED');
  });

  it('a client that never answers the close frame does not hold the shutdown: exit 0 well within shutdown.timeoutMs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-shutdown-'));
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ storage: 'memory', auth: { jwtSecret: SECRET }, shutdown: { timeoutMs: 6000 } }));
    const gw = await startGatewayProcess({ args: ['--config', config], env: { SWITCHBOARD_LOG_LEVEL: 'info' } });
    const { mintToken } = await import('../packages/server/src/index.ts');
    const t = await mintToken({ sub: 'mute', secret: SECRET, ttlSec: 600 });
    // A WebSocket peer by hand: it completes the upgrade, then reads but never answers (as a
    // stopped process or a vanished phone), so the close handshake never completes.
    const sock = tcpConnect(gw.port, '127.0.0.1');
    sock.on('error', () => {});
    let got = '';
    sock.on('data', (d: Buffer) => { got += d.toString('latin1'); });
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write(`GET /ws?token=${t} HTTP/1.1\r\nHost: gateway\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
    await waitFor(() => got.includes('auth_success'), 10_000, 'the upgrade and auth_success');
    const exitCode = await gw.stop();
    expect(gw.output()).toContain('shutdown complete: clients told, stores flushed');
    expect(exitCode).toBe(0); // before: held until the force-exit timer, exit 1
    await closed; // the gateway destroyed the socket it had told
    expect(got).toContain('"code":3001');
  });

  it('exits 1 after shutdown.timeoutMs when closing hangs (a request that never completes holds the HTTP server)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-shutdown-'));
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({
      storage: 'memory', auth: { jwtSecret: SECRET },
      limits: { handshakeTimeoutMs: 60_000 }, shutdown: { timeoutMs: 1000 },
    }));
    const gw = await startGatewayProcess({ args: ['--config', config], env: { SWITCHBOARD_LOG_LEVEL: 'info' } });
    const sock = tcpConnect(gw.port, '127.0.0.1');
    sock.on('error', () => {});
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write('GET /healthz HTTP/1.1\r\nHost: gateway\r\n'); // never finished
    await new Promise((r) => setTimeout(r, 100));
    expect(await gw.stop()).toBe(1);
    expect(gw.output()).toContain('shutdown timed out; exiting');
    sock.destroy();
  });

  it('stops accepting at once and closes the stores before close() resolves', async () => {
    const gw = await startGateway();
    const alice = await connectAuthed(gw.wsUrl, 'alice');
    const closedStores: string[] = [];
    for (const name of ['history', 'sessions'] as const) {
      const store = gw.node[name] as unknown as { close: () => Promise<void> };
      const original = store.close;
      store.close = async () => {
        await new Promise((r) => setTimeout(r, 50));
        await original.call(store);
        closedStores.push(name);
      };
    }
    const closing = gw.close();
    expect(gw.node.accepting).toBe(false);
    const attempt = await handshake(gw.wsUrl);
    expect([503, 'ECONNREFUSED', 'ECONNRESET']).toContain(attempt);
    await closing;
    expect(closedStores.sort()).toEqual(['history', 'sessions']);
    expect(await alice.waitClose()).toBe(3001);
  });
});
