/**
 * History append and replay micro-benchmark: memory vs SQLite (WAL, synchronous NORMAL and
 * FULL). Run with `npx node bench/history.bench.ts`; not part of the test suite.
 *
 * append:  one publication (~100 bytes of JSON) per call, awaited one at a time, as the
 *          gateway does for one channel; retention 1000 (so every append also trims one).
 * +key:    the same with an idempotency key (a dedup lookup and a key row per append).
 * burst:   100 appends issued at once over 10 channels (many publishers in one turn; SQLite
 *          commits them together), per append.
 * replay:  a subscribe with `since` 500 behind on a 1000-publication stream.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HistoryStore } from '../packages/server/src/history/history-store.ts';
import { MemoryHistoryStore } from '../packages/server/src/history/memory-history-store.ts';
import { SqliteHistoryStore } from '../packages/server/src/history/sqlite-history-store.ts';
import { openSqlite } from '../packages/server/src/sqlite/database.ts';

const RETENTION = { size: 1000, ttlMs: 3_600_000 };
const data = { text: 'the quick brown fox jumps over the lazy dog', user: { id: 42, name: 'alice' }, tags: ['a', 'b'] };

interface Subject { name: string; appends: number; make(): { store: HistoryStore; done(): void } }

const dir = mkdtempSync(join(tmpdir(), 'sb-bench-'));
let seq = 0;
const sqlite = (synchronous: 'normal' | 'full') => () => {
  const db = openSqlite(join(dir, `b${seq++}.db`), { synchronous });
  const store = new SqliteHistoryStore({ db, sweepIntervalMs: 0 });
  return { store, done: () => db.close() };
};
const subjects: Subject[] = [
  { name: 'memory', appends: 50_000, make: () => ({ store: new MemoryHistoryStore(), done() {} }) },
  { name: 'sqlite normal', appends: 10_000, make: sqlite('normal') },
  { name: 'sqlite full', appends: 1_000, make: sqlite('full') },
];

interface Timing { wall: number; cpu: number }

/** Wall and CPU time per operation (µs). CPU time is steadier on a busy machine; wall time includes fsync waits. */
async function timeIt(n: number, fn: (i: number) => Promise<unknown>, per = 1): Promise<Timing> {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn(i);
  const wall = Number(process.hrtime.bigint() - t0) / 1e3 / n / per;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / n / per };
}

const fmt = (t: Timing) => `${t.wall.toFixed(1).padStart(7)} µs (cpu ${t.cpu.toFixed(1).padStart(6)})`;
const rows: string[] = [];
for (const s of subjects) {
  const { store, done } = s.make();
  const pub = (i: number) => ({ channel: 'chat:bench', data, from: 'alice', ts: Date.now(), id: `m-${i}` });
  await timeIt(Math.min(1000, s.appends), (i) => store.append('chat:warm', pub(i), { ...RETENTION, dedupWindowMs: 60_000 }));
  const plain = await timeIt(s.appends, (i) => store.append('chat:bench', pub(i), { ...RETENTION, dedupWindowMs: 60_000 }));
  const keyed = await timeIt(s.appends, (i) => store.append('chat:keyed', pub(i), { ...RETENTION, idempotencyKey: `m-${i}`, dedupWindowMs: 60_000 }));
  const burst = await timeIt(s.appends / 100, (j) => Promise.all(Array.from({ length: 100 }, (_, i) =>
    store.append(`chat:burst${i % 10}`, pub(j * 100 + i), { ...RETENTION, dedupWindowMs: 60_000 }))), 100);
  const { epoch, offset } = await store.position('chat:bench');
  const replays = s.name === 'memory' ? 5_000 : 300;
  const replay = await timeIt(replays, () => store.read('chat:bench', { since: { epoch, offset: offset - 500 }, limit: 1000, retention: RETENTION }));
  rows.push(`${s.name.padEnd(14)} append ${fmt(plain)}  +key ${fmt(keyed)}  burst ${fmt(burst)}  replay 500 ${fmt(replay)}`);
  console.error(`done: ${s.name}`);
  await store.close();
  done();
}
rmSync(dir, { recursive: true, force: true });
console.log(`node ${process.version}, µs per append / per replay of 500 (wall, cpu)\n${rows.join('\n')}`);
