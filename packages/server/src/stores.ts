import { ConfigError, type Config } from './config.ts';
import type { HistoryStore } from './history/history-store.ts';
import { MemoryHistoryStore } from './history/memory-history-store.ts';
import { SqliteHistoryStore } from './history/sqlite-history-store.ts';
import { openSqlite } from './sqlite/database.ts';
import type { SessionStore } from './session/session-store.ts';
import { MemorySessionStore } from './session/memory-session-store.ts';
import { SqliteSessionStore } from './session/sqlite-session-store.ts';

export interface Stores {
  history: HistoryStore;
  sessions: SessionStore;
  /** Releases what the stores share (the SQLite database); call after the stores' own `close`. */
  close(): Promise<void>;
}

/**
 * Builds the stores named by `config.storage`: `memory`, or `sqlite:<path>` (one database
 * file, opened with `openSqlite`, shared by the history and session stores).
 */
export async function createStores(config: Config): Promise<Stores> {
  const storage = config.storage;
  if (storage === 'memory') return { history: new MemoryHistoryStore(), sessions: new MemorySessionStore(), close: async () => {} };
  if (storage.startsWith('sqlite:')) {
    const path = storage.slice('sqlite:'.length);
    let db;
    try {
      db = openSqlite(path);
    } catch (err) {
      throw new ConfigError(`storage: cannot open SQLite database ${path}: ${(err as Error).message}`);
    }
    return {
      history: new SqliteHistoryStore({ db }),
      sessions: new SqliteSessionStore(db),
      close: async () => db.close(),
    };
  }
  throw new ConfigError(`storage: "${storage}" needs the redis setting`);
}
