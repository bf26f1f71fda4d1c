import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runHistoryStoreContract } from '../src/history/history.contract.ts';
import { MemoryHistoryStore } from '../src/history/memory-history-store.ts';
import { SqliteHistoryStore } from '../src/history/sqlite-history-store.ts';
import { migrate, openSqlite } from '../src/sqlite/database.ts';
import type { DatabaseSync } from 'node:sqlite';

const dir = mkdtempSync(join(tmpdir(), 'sb-history-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const dbs = new WeakMap<object, { db: DatabaseSync; path: string }>();

describe('MemoryHistoryStore', () => {
  runHistoryStoreContract({ create: (clock) => new MemoryHistoryStore({ now: clock.now }) });
});

describe('SqliteHistoryStore', () => {
  runHistoryStoreContract({
    create(clock) {
      const path = join(dir, `c${n++}`, 'history.db');
      const db = openSqlite(path);
      const store = new SqliteHistoryStore({ db, now: clock.now, sweepIntervalMs: 0 });
      dbs.set(store, { db, path });
      return store;
    },
    async reopen(store, clock) {
      const { db, path } = dbs.get(store)!;
      await store.close();
      db.close();
      const db2 = openSqlite(path);
      const again = new SqliteHistoryStore({ db: db2, now: clock.now, sweepIntervalMs: 0 });
      dbs.set(again, { db: db2, path });
      return again;
    },
    async stored(store) {
      const { db } = dbs.get(store)!;
      const count = (t: string) => (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
      return ['history_streams', 'history_pubs', 'history_keys', 'history_claims'].reduce((n, t) => n + count(t), 0);
    },
  });
});

describe('openSqlite', () => {
  it('creates the parent directory and opens the file in WAL mode', () => {
    const path = join(dir, 'deep', 'er', 'x.db');
    const db = openSqlite(path);
    expect((db.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode).toBe('wal');
    expect((db.prepare('PRAGMA synchronous').get() as { synchronous: number }).synchronous).toBe(1); // NORMAL
    db.close();
    const full = openSqlite(path, { synchronous: 'full' });
    expect((full.prepare('PRAGMA synchronous').get() as { synchronous: number }).synchronous).toBe(2);
    full.close();
  });

  it('applies schema steps once, in order, and refuses a newer database', () => {
    const path = join(dir, 'migrate.db');
    const db = openSqlite(path);
    migrate(db, 'demo', ['CREATE TABLE demo (a INTEGER)']);
    migrate(db, 'demo', ['CREATE TABLE demo (a INTEGER)', 'ALTER TABLE demo ADD COLUMN b TEXT']);
    migrate(db, 'demo', ['CREATE TABLE demo (a INTEGER)', 'ALTER TABLE demo ADD COLUMN b TEXT']);
    expect((db.prepare('SELECT count(*) AS n FROM pragma_table_info(\'demo\')').get() as { n: number }).n).toBe(2);
    expect(() => migrate(db, 'demo', ['CREATE TABLE demo (a INTEGER)'])).toThrow(/newer than this build/);
    expect(() => migrate(db, 'broken', ['CREATE TABLE ok (a)', 'NOT SQL'])).toThrow();
    // The failed step rolled back; the good one stayed.
    expect((db.prepare('SELECT version FROM sb_schema WHERE component = ?').get('broken') as { version: number }).version).toBe(1);
    db.close();
  });

  it('deletes expired idempotency keys and claims when swept', async () => {
    let t = 1000;
    const db = openSqlite(':memory:');
    const store = new SqliteHistoryStore({ db, now: () => t, sweepIntervalMs: 0 });
    await store.append('c:a', { channel: 'c:a', data: 1, ts: t }, { size: 10, ttlMs: 1e9, idempotencyKey: 'k', dedupWindowMs: 100 });
    await store.claimKey('n:a', 'k', 100);
    const count = () => (db.prepare('SELECT (SELECT count(*) FROM history_keys) + (SELECT count(*) FROM history_claims) AS n').get() as { n: number }).n;
    expect(count()).toBe(2);
    t += 100;
    store.sweep();
    expect(count()).toBe(0);
    await store.close();
    db.close();
  });
});
