import { ConfigError, type Config } from './config.ts';
import type { HistoryStore } from './history/history-store.ts';
import { MemoryHistoryStore } from './history/memory-history-store.ts';
import type { SessionStore } from './session/session-store.ts';
import { MemorySessionStore } from './session/memory-session-store.ts';

export interface Stores {
  history: HistoryStore;
  sessions: SessionStore;
}

/** Builds the stores named by `config.storage`. */
export async function createStores(config: Config): Promise<Stores> {
  const storage = config.storage;
  if (storage === 'memory') return { history: new MemoryHistoryStore(), sessions: new MemorySessionStore() };
  if (storage.startsWith('sqlite:')) {
    throw new ConfigError('storage: sqlite is not available yet; use "memory"');
  }
  throw new ConfigError(`storage: "${storage}" needs the redis setting`);
}
