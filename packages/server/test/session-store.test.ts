import { DatabaseSync } from 'node:sqlite';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSessionStoreContract } from '../src/session/session.contract.ts';
import { MemorySessionStore } from '../src/session/memory-session-store.ts';
import { SqliteSessionStore } from '../src/session/sqlite-session-store.ts';

function clock() {
  let t = 1_700_000_000_000;
  return { now: () => t, advance: (ms: number) => { t += ms; } };
}

function openDb(dir: string): DatabaseSync {
  const db = new DatabaseSync(join(dir, 'sessions.db'));
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
  return db;
}

runSessionStoreContract({
  name: 'memory',
  create() {
    const c = clock();
    return { store: new MemorySessionStore({ now: c.now }), advance: c.advance };
  },
});

runSessionStoreContract({
  name: 'sqlite',
  create() {
    const c = clock();
    const dir = mkdtempSync(join(tmpdir(), 'sb-sessions-'));
    const db = openDb(dir);
    return {
      store: new SqliteSessionStore(db, { now: c.now, sweepEvery: 64 }),
      advance: c.advance,
      dispose: () => { db.close(); rmSync(dir, { recursive: true, force: true }); },
    };
  },
});

describe('SqliteSessionStore', () => {
  it('survives reopening the database, and never stores the id itself', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-sessions-'));
    try {
      let db = openDb(dir);
      const s = await new SqliteSessionStore(db).create('alice', 60_000);
      db.close();
      db = openDb(dir);
      expect((await new SqliteSessionStore(db).get(s.id))?.user).toBe('alice');
      const rows = db.prepare('SELECT * FROM sb_sessions').all();
      expect(JSON.stringify(rows)).not.toContain(s.id);
      expect(JSON.stringify(rows)).not.toContain(s.id.slice(2));
      db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
