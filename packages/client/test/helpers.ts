import { Switchboard, MemoryStorage, type SwitchboardOptions, type ClientEvents } from '../src/index.ts';
import type { ConfigInput } from '../../server/src/index.ts';

/** Gateway namespaces for the SDK tests: `chat` keeps history and is open to every user. */
export const NAMESPACES: ConfigInput['namespaces'] = {
  '': {},
  chat: { history: { size: 1000, ttl: '1h' }, presence: true, joinLeave: true, allowSubscribe: true, allowPublish: true },
  live: { allowSubscribe: true, allowPublish: true },
  /** Delta compression for the subscribers that ask for it. */
  doc: { allowSubscribe: true, allowPublish: true, delta: 'fossil' },
  locked: {},
  '#': { history: { size: 100, ttl: '1h' } },
};

const open: Switchboard[] = [];

/** A client with test-friendly defaults (fast backoff, memory storage, no window); closed by `closeClients()`. */
export function makeClient(url: string, options: SwitchboardOptions = {}): Switchboard {
  const c = new Switchboard(url, {
    storage: new MemoryStorage(),
    window: null,
    connectTimeoutMs: 3000,
    ...options,
    reconnect: { minDelayMs: 50, maxDelayMs: 250, ...options.reconnect },
  });
  open.push(c);
  return c;
}

export function closeClients(): void {
  for (const c of open.splice(0)) c.close();
}

/** Records every client event in order, as `name` or `name:detail`. */
export function record(c: Switchboard): { log: string[]; count(name: string): number } {
  const log: string[] = [];
  const names: Array<keyof ClientEvents> = ['connecting', 'connected', 'disconnected', 'closed', 'kicked', 'online', 'offline', 'token', 'error'];
  for (const n of names) {
    c.on(n, (e: any) => log.push(n === 'disconnected' || n === 'closed' || n === 'kicked' ? `${n}:${e.code}:${e.reason}` : n === 'error' ? `error:${e.error?.code ?? e.error?.message}` : n));
  }
  return { log, count: (name) => log.filter((l) => l === name || l.startsWith(`${name}:`)).length };
}

/** Resolves when the client reaches `state` (now or later). */
export function until(c: Switchboard, state: Switchboard['state'], timeoutMs = 8000): Promise<void> {
  if (c.state === state) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { off(); reject(new Error(`client did not reach ${state} (is ${c.state})`)); }, timeoutMs);
    const off = c.on('state', (e) => {
      if (e.state === state) { clearTimeout(t); off(); resolve(); }
    });
  });
}

/** Runs the package's build into a fresh temporary directory; returns it. */
export async function buildClient(): Promise<string> {
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { spawnSync } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const out = join(mkdtempSync(join(tmpdir(), 'sb-client-')), 'dist');
  const script = fileURLToPath(new URL('../scripts/build.ts', import.meta.url));
  const r = spawnSync(process.execPath, [script, out], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build failed: ${r.stdout}${r.stderr}`);
  return out;
}
