import { emit, serveCommands } from '../lib/child.ts';

/** Settings every server under test gets from the harness (environment). */
export const settings = {
  port: Number(process.env.BENCH_PORT ?? 0),
  secret: process.env.BENCH_SECRET ?? 'bench-secret-0123456789abcdef',
  /** Heartbeat interval for servers that have one (ms; the peers keep their defaults). */
  heartbeatMs: Number(process.env.BENCH_HEARTBEAT_MS ?? 25_000),
};

/**
 * Answers the harness for a server under test: `mem` (after a full GC when the process runs
 * with --expose-gc) and `stop`; announces the bound port with a `ready` event.
 */
export function serveControl(port: number, stop: () => Promise<void>, extra: Record<string, (m: any) => unknown> = {}): void {
  serveCommands({
    mem() {
      const gc = (globalThis as { gc?: () => void }).gc;
      if (gc) { gc(); gc(); }
      const m = process.memoryUsage();
      return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
    },
    async stop() {
      await stop();
      setTimeout(() => process.exit(0), 50);
      return {};
    },
    ...extra,
  });
  emit('ready', { port, pid: process.pid });
}
