import { isUtf8 } from 'node:buffer';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import WebSocket from 'ws';
import { ErrorCodes } from '@switchboard/protocol';
import { SECRET, token } from './helpers.ts';
import { waitFor } from '../../../test/support/ports.ts';

/**
 * Property-based fuzzing against a live gateway in its own process (`--expose-gc`, so its
 * heap can be measured after a full collection). Every run opens a connection, throws
 * generated input at it, then sends a sentinel `ping`: the gateway must answer the sentinel
 * (having replied `error`s where due) or close with an allowed code — never crash, never
 * answer `internal`, never hang.
 */

const FIXTURE = fileURLToPath(new URL('./fixtures/gc-gateway.ts', import.meta.url));
const MAX_FRAME = 64 * 1024;
const SERVER_TYPES = new Set(['auth_success', 'auth_failed', 'ack', 'error', 'message', 'join', 'leave', 'online', 'offline', 'ping', 'pong', 'token_expiring', 'disconnect']);
const ERROR_CODES = new Set<string>(ErrorCodes);
const RUNS = 30;

let child: ChildProcess;
let wsUrl: string;
let goodToken: string;

function ask<T>(msg: string): Promise<T> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as T));
    child.send(msg);
  });
}

type Send = (ws: WebSocket) => void;
interface Outcome { code: number | undefined; frames: any[]; answered: boolean }

/** Opens a connection (authenticated unless told), runs `sends`, then waits for the sentinel pong or the close. */
function exchange(sends: Send[], o: { auth?: boolean; resendSentinel?: boolean } = {}): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(o.auth === false ? wsUrl : `${wsUrl}?token=${goodToken}`, { maxPayload: 64 * 1024 * 1024 });
    const out: Outcome = { code: undefined, frames: [], answered: false };
    const timer = setTimeout(() => { ws.terminate(); reject(new Error(`no answer and no close; frames ${JSON.stringify(out.frames).slice(0, 300)}`)); }, 10_000);
    let again: NodeJS.Timeout | undefined;
    const done = () => { clearTimeout(timer); clearInterval(again); ws.terminate(); resolve(out); };
    const start = () => {
      try {
        for (const s of sends) if (ws.readyState === WebSocket.OPEN) s(ws);
        if (ws.readyState === WebSocket.OPEN) ws.send('{"type":"ping","id":"sentinel"}');
        // A rate-limited sentinel is refused like any command: ask again until answered.
        if (o.resendSentinel) again = setInterval(() => { if (ws.readyState === WebSocket.OPEN) ws.send('{"type":"ping","id":"sentinel"}'); }, 500);
      } catch (err) {
        if (ws.readyState === WebSocket.OPEN) reject(err);
      }
    };
    ws.on('message', (d) => {
      const v = JSON.parse(d.toString());
      for (const f of Array.isArray(v) ? v : [v]) {
        out.frames.push(f);
        if (f.type === 'auth_success' && o.auth !== false) start();
        if (f.type === 'pong' && f.id === 'sentinel') { out.answered = true; done(); }
      }
    });
    ws.on('open', () => { if (o.auth === false) start(); });
    ws.on('close', (code) => { out.code = code; done(); });
    ws.on('error', () => {});
  });
}

/** The invariants every run must keep. */
function check(r: Outcome, allowedCloses: number[]): void {
  if (!r.answered) expect(allowedCloses, `closed ${r.code}; frames ${JSON.stringify(r.frames).slice(0, 300)}`).toContain(r.code);
  for (const f of r.frames) {
    expect(SERVER_TYPES.has(f.type), `unexpected frame ${JSON.stringify(f).slice(0, 200)}`).toBe(true);
    if (f.type === 'error') {
      expect(ERROR_CODES.has(f.code), `unknown error code ${f.code}`).toBe(true);
      expect(f.code, `internal error: ${f.message}`).not.toBe('internal');
    }
  }
  expect(child.exitCode).toBeNull();
}

const text = (s: string): Send => (ws) => ws.send(s);
const bytes = (b: Uint8Array, binary = false): Send => (ws) => ws.send(Buffer.from(b), { binary });

const known = ['auth', 'subscribe', 'unsubscribe', 'publish', 'send', 'presence', 'history', 'refresh', 'ping', 'pong'];
const channel = fc.oneof(fc.constantFrom('chat:a', 'chat:b', '#u1', '#other', 'nope:x', '', '*', 'chat:*', '../x'), fc.string({ maxLength: 40 }), fc.anything());
const command = fc.record({
  type: fc.oneof(fc.constantFrom(...known), fc.string({ maxLength: 12 }), fc.anything()),
  id: fc.oneof(fc.integer(), fc.string({ maxLength: 140 }), fc.anything()),
  channel,
  data: fc.jsonValue({ maxDepth: 4 }),
  since: fc.oneof(fc.record({ epoch: fc.string({ maxLength: 70 }), offset: fc.oneof(fc.integer(), fc.double()) }), fc.anything()),
  limit: fc.oneof(fc.integer({ min: -5, max: 5000 }), fc.anything()),
  token: fc.oneof(fc.string({ maxLength: 50 }), fc.anything()),
  to: fc.oneof(fc.constantFrom('u1', 'other', ''), fc.anything()),
  name: fc.anything(),
  session: fc.anything(),
}, { requiredKeys: ['type'] });

describe('fuzz: hostile input against a live gateway process', () => {
  let baseline = 0;

  beforeAll(async () => {
    const options = {
      auth: { jwtSecret: SECRET, timeoutMs: 2000 },
      namespaces: { chat: { history: { size: 10, ttl: '1h' }, presence: true, joinLeave: true, allowSubscribe: true, allowPublish: true } },
      limits: { maxFrameBytes: MAX_FRAME, commandsPerSecond: 500, connectionsPerIpPerSecond: 100_000 },
      heartbeat: { intervalMs: 0 },
    };
    child = fork(FIXTURE, [JSON.stringify(options)], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const { port } = await new Promise<{ port: number }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as { port: number }));
      child.once('exit', (c) => reject(new Error(`fuzz gateway exited ${c}`)));
    });
    wsUrl = `ws://127.0.0.1:${port}/ws`;
    goodToken = await token('u1');
    // Warm up (JIT, caches, pools), then measure.
    for (let i = 0; i < 20; i++) check(await exchange([text('{"type":"subscribe","id":1,"channel":"chat:a"}'), text('{"type":"publish","id":2,"channel":"chat:a","data":1}')]), []);
    await waitFor(async () => (await ask<{ connections: number }>('stats')).connections === 0, 5000, 'warm-up connections closed');
    baseline = (await ask<{ heap: number }>('heap')).heap;
  });

  afterAll(async () => {
    if (child.exitCode === null) {
      child.send('stop');
      await new Promise((r) => child.once('exit', r));
    }
  });

  it('non-JSON text: closes 3501', async () => {
    const junk = fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }),
      fc.constantFrom('', '{', '[1,2', 'null', '"s"', '123', 'true', '[]', '[{"type":"ping"}]', '{"type":}', 'NaN', '{"type":"ping"}{"type":"ping"}'));
    await fc.assert(fc.asyncProperty(junk, async (s) => {
      fc.pre(!isObjectJson(s));
      const r = await exchange([text(s)]);
      check(r, [3501]);
      expect(r.answered).toBe(false);
    }), { numRuns: RUNS });
  });

  it('objects with wrong types and random fields: error replies, the connection stays', async () => {
    await fc.assert(fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 6 }), async (cmds) => {
      const frames = cmds.map((c) => JSON.stringify(c)).filter((s) => s.length <= MAX_FRAME);
      check(await exchange(frames.map(text)), [3500, 3501]);
    }), { numRuns: RUNS * 2 });
  });

  it('huge and deeply nested JSON: answered or closed 3501, never a crash', async () => {
    const deep = fc.record({ depth: fc.integer({ min: 1, max: 32_000 }), kind: fc.constantFrom('[', '{"a":'), where: fc.constantFrom('data', 'channel', 'since', 'top') });
    await fc.assert(fc.asyncProperty(deep, async ({ depth, kind, where }) => {
      const close = kind === '[' ? ']' : '}';
      const nest = kind.repeat(depth) + '1' + close.repeat(depth);
      const s = where === 'top' ? nest : `{"type":"publish","channel":"chat:deep","${where}":${nest}${where === 'data' ? '' : ',"data":1'}}`;
      // Subscribed first, so a stored publication is also encoded for delivery and replay.
      const sub = text('{"type":"subscribe","id":"sub","channel":"chat:deep","since":{"epoch":"x","offset":0}}');
      check(await exchange([sub, text(s), sub]), [3501]);
    }), { numRuns: RUNS });
    const edge = (d: number) => `{"type":"publish","id":"e${d}","channel":"chat:edge","data":${'['.repeat(d)}${']'.repeat(d)}}`;
    const edges = await exchange([text(edge(64)), text(edge(65))]);
    expect(edges.frames.find((f) => f.id === 'e64')).toMatchObject({ type: 'ack' });
    expect(edges.frames.find((f) => f.id === 'e65')).toMatchObject({ type: 'error', code: 'bad_request' });
    await fc.assert(fc.asyncProperty(fc.integer({ min: MAX_FRAME - 200, max: MAX_FRAME * 8 }), async (n) => {
      const s = `{"type":"publish","id":"big","channel":"chat:big","data":"${'x'.repeat(n)}"}`;
      const r = await exchange([text(s)]);
      check(r, [3501]);
      if (s.length > MAX_FRAME) expect(r.code).toBe(3501);
    }), { numRuns: 10 });
  });

  it('invalid UTF-8 and binary frames: closed 3501', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.boolean(), async (b, binary) => {
      const r = await exchange([bytes(b, binary)]);
      check(r, [3501]);
      if (binary || !isUtf8(b)) expect(r.code).toBe(3501);
    }), { numRuns: RUNS });
    const lone = Buffer.concat([Buffer.from('{"type":"ping","id":"'), Buffer.from([0xc3]), Buffer.from('"}')]);
    expect((await exchange([bytes(lone)])).code).toBe(3501);
  });

  it('fragmented frames: reassembled and handled; oversized or binary fragments closed 3501', async () => {
    const cmd = fc.constantFrom('{"type":"ping","id":"f"}', '{"type":"subscribe","id":"s","channel":"chat:a"}', '{"type":"publish","id":"p","channel":"chat:a","data":{"x":[1,2,3]}}', '{"type":"nope"}');
    await fc.assert(fc.asyncProperty(cmd, fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), fc.boolean(), async (s, cuts, binaryStart) => {
      const points = [...new Set(cuts.map((c) => c % s.length))].sort((a, b) => a - b);
      const parts = [...points, s.length].map((p, i, a) => s.slice(i === 0 ? 0 : a[i - 1], p)).filter((p) => p.length > 0);
      const sends: Send[] = parts.map((p, i) => (ws) => ws.send(p, { fin: i === parts.length - 1, binary: i === 0 && binaryStart }));
      const r = await exchange(sends);
      check(r, [3501]);
      if (binaryStart) expect(r.code).toBe(3501);
      else expect(r.answered).toBe(true);
    }), { numRuns: RUNS });
    const big: Send[] = Array.from({ length: 10 }, (_, i) => (ws) => ws.send(i === 0 ? '{"type":"ping","pad":"' + 'x'.repeat(4000) : 'x'.repeat(4000), { fin: i === 9 }));
    expect((await exchange(big)).code).toBe(3501);
  });

  it('commands out of order (before auth, twice, unsubscribe first …): error replies', async () => {
    const step = fc.constantFrom(
      '{"type":"subscribe","id":1,"channel":"chat:a"}', '{"type":"unsubscribe","id":2,"channel":"chat:a"}',
      '{"type":"publish","id":3,"channel":"chat:a","data":1}', '{"type":"history","id":4,"channel":"chat:a"}',
      '{"type":"presence","id":5,"channel":"chat:a"}', '{"type":"refresh","id":6,"token":"x"}', '{"type":"pong"}',
      '{"type":"send","id":7,"to":"other","data":1}', `{"type":"auth","id":8,"token":"${'T'}"}`,
    );
    await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 10 }), fc.boolean(), async (steps, authFirst) => {
      const sends = steps.map((s) => text(s.replace('"T"', JSON.stringify(goodToken))));
      const r = await exchange(sends, { auth: authFirst });
      check(r, []);
      const firstCommand = steps.find((s) => s.includes('"id"'));
      if (!authFirst && firstCommand && !firstCommand.includes('"auth"')) {
        expect(r.frames.find((f) => f.type === 'error' || f.type === 'ack' || f.type.startsWith('auth_'))).toMatchObject({ type: 'error', code: 'unauthorized' });
      }
    }), { numRuns: RUNS });
  });

  it('floods: a burst past the rate limit gets too_many_requests or 3013, never a crash; a survivor is answered once it slows down', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 100, max: 3000 }), async (n) => {
      const r = await exchange(Array.from({ length: n }, (_, i) => text(i % 2 ? '{"type":"ping"}' : '{"type":"publish","channel":"chat:flood","data":1}')), { resendSentinel: true });
      check(r, [3013]);
      if (n > 1000) expect(r.frames.some((f) => f.type === 'error' && f.code === 'too_many_requests' && f.temporary === true) || r.code === 3013).toBe(true);
    }), { numRuns: 8 });
  });

  it('afterwards: nothing left behind, heap back near its baseline, and the gateway still serves', async () => {
    await waitFor(async () => (await ask<{ connections: number }>('stats')).connections === 0, 10_000, 'all fuzz connections closed');
    const stats = await ask<Record<string, number>>('stats');
    expect(stats).toMatchObject({ connections: 0, clients: 0, users: 0, channels: 0, subscriptions: 0 });
    const heap = (await ask<{ heap: number }>('heap')).heap;
    expect(heap, `heap ${(heap / 1e6).toFixed(1)} MB vs baseline ${(baseline / 1e6).toFixed(1)} MB`).toBeLessThan(baseline * 1.5 + 16e6);
    const r = await exchange([text('{"type":"subscribe","id":"ok","channel":"chat:a"}')]);
    expect(r.answered).toBe(true);
    expect(r.frames.find((f) => f.id === 'ok')).toMatchObject({ type: 'ack' });
  });
});

function isObjectJson(s: string): boolean {
  try {
    const v = JSON.parse(s);
    return typeof v === 'object' && v !== null && !Array.isArray(v);
  } catch {
    return false;
  }
}
