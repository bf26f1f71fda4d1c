import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createServer } from '../src/index.ts';
import { createLogger } from '../src/logger.ts';
import { clip, LimitedLog } from '../src/log-limit.ts';
import { connectAuthed, SECRET } from './helpers.ts';

const servers: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

/** A gateway logging at `info` (the production default) into a byte counter. */
async function gatewayCountingLog(options: Record<string, unknown>, level = 'info') {
  const log = { bytes: 0, lines: [] as string[] };
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      log.bytes += chunk.length;
      if (log.lines.length < 1000) log.lines.push(chunk.toString());
      done();
    },
  });
  const server = await createServer({
    options: { port: 0, host: '127.0.0.1', storage: 'memory', auth: { jwtSecret: SECRET }, ...options },
    logger: createLogger(level, sink),
  });
  servers.push(server);
  const addr = await server.listen();
  return { server, port: addr.port, log };
}

/** One raw upgrade request; resolves with the status line the gateway answers. */
function upgrade(port: number, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    s.on('connect', () => {
      const lines = ['GET /ws HTTP/1.1', 'Host: 127.0.0.1', 'Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='];
      for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
      s.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (got.includes('\r\n')) s.destroy(); // the status line is all we need (a 101 would wait for auth)
    });
    s.on('close', () => resolve(got.split('\r\n')[0]!));
    s.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve(got.split('\r\n')[0]!) : reject(err)));
  });
}

async function flood(n: number, concurrency: number, one: () => Promise<string>): Promise<Map<string, number>> {
  const statuses = new Map<string, number>();
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) {
      next++;
      const status = await one();
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  }));
  return statuses;
}

describe('refused handshakes are logged rate-limited, attacker-sized values clipped', () => {
  it('2,000 upgrades with an 8 KB Origin add well under 1 MB of log; the refusals are still on record', { timeout: 180_000 }, async () => {
    const { port, log } = await gatewayCountingLog({ allowedOrigins: ['https://app.example.com'], limits: { connectionsPerIpPerSecond: 100_000 } });
    const before = log.bytes;
    const origin = `https://${'x'.repeat(8192)}.evil.example`;
    const started = Date.now();
    const statuses = await flood(2000, 50, () => upgrade(port, { Origin: origin }));
    const seconds = (Date.now() - started) / 1000;
    expect([...statuses]).toEqual([['HTTP/1.1 403 Forbidden: origin not allowed', 2000]]);
    const added = log.bytes - before;
    // Unlimited, this is 2,000 lines of 8 KB (16 MB). At most 10 lines a second plus a summary.
    expect(added).toBeLessThan(1024 * 1024);
    const refusals = log.lines.filter((l) => l.includes('websocket origin refused'));
    expect(refusals.length).toBeGreaterThan(0);
    expect(refusals.length).toBeLessThanOrEqual(11 * (Math.ceil(seconds) + 2));
    for (const l of refusals) expect(l.length).toBeLessThan(1024);
    console.log(`2000 refused upgrades with an 8 KB Origin: ${added} bytes of log in ${refusals.length} lines`);
  });

  it('a connection-rate flood is summed up, not logged per refusal', { timeout: 120_000 }, async () => {
    const { port, log } = await gatewayCountingLog({ limits: { connectionsPerIpPerSecond: 1 } });
    const started = Date.now();
    const statuses = await flood(1000, 25, () => upgrade(port, { 'User-Agent': 'u'.repeat(8000) }));
    const seconds = (Date.now() - started) / 1000;
    const refused = statuses.get('HTTP/1.1 429 Too Many Requests') ?? 0;
    expect(refused).toBeGreaterThan(500);
    const lines = log.lines.filter((l) => l.includes('connection rate limit exceeded'));
    expect(lines.length).toBeLessThanOrEqual(11 * (Math.ceil(seconds) + 2));
    expect(lines.length).toBeLessThan(refused);
    expect(log.bytes).toBeLessThan(1024 * 1024);
  });
});

describe('LimitedLog (unit)', () => {
  it('a connection\'s id is never logged: its lines carry a tag, the same in each line of it', async () => {
    const { port, log } = await gatewayCountingLog({}, 'debug');
    const c = await connectAuthed(`ws://127.0.0.1:${port}/ws`, 'tagged');
    const id = c.frames.find((f) => f.type === 'auth_success')?.client as string;
    expect(id).toMatch(/^c_/);
    c.close();
    await expect.poll(() => log.lines.some((l) => l.includes('connection closed'))).toBe(true);
    const mine = log.lines.map((l) => JSON.parse(l)).filter((l) => l.user === 'tagged');
    expect(mine.map((l) => l.msg)).toEqual(expect.arrayContaining(['authenticated', 'connection closed']));
    expect(log.lines.join('')).not.toContain(id);
    expect(new Set(mine.map((l) => l.client)).size).toBe(1);
    expect(mine[0].client).toMatch(/^t_[\w-]{12}$/);
  });

  it('writes perWindow lines per message and window, then one summary with the count', async () => {
    const out: any[] = [];
    const sink = new Writable({ write(c: Buffer, _e, done) { out.push(JSON.parse(c.toString())); done(); } });
    const l = new LimitedLog(createLogger('info', sink), { perWindow: 3, windowMs: 50 });
    for (let i = 0; i < 100; i++) l.warn({ i, v: 'y'.repeat(1000) }, 'refused');
    l.info({ other: true }, 'other message');
    await new Promise((r) => setTimeout(r, 200));
    expect(out.filter((o) => o.msg === 'refused').map((o) => o.i)).toEqual([0, 1, 2]);
    expect(out.find((o) => o.msg === 'refused (more lines suppressed)')).toMatchObject({ suppressed: 97 });
    expect(out.filter((o) => o.msg === 'other message')).toHaveLength(1);
    expect(out[0].v).toBe(clip('y'.repeat(1000)));
    l.stop();
  });

  it('clip cuts long strings, says how much, and replaces control characters', () => {
    expect(clip('abc')).toBe('abc');
    expect(clip('a\nb\u0000')).toBe('a?b?');
    expect(clip('z'.repeat(300))).toBe(`${'z'.repeat(200)}…(+100 chars)`);
    expect(clip(42)).toBe(42);
  });
});
