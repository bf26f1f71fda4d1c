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
 * with --expose-gc), `warm` and `stop`; announces the bound port with a `ready` event.
 */
export function serveControl(port: number, stop: () => Promise<void>, extra: Record<string, (m: any) => unknown> = {}): void {
  serveCommands({
    async mem() {
      const gc = (globalThis as { gc?: () => void }).gc;
      if (gc) {
        gc(); gc();
        // V8 hands freed pages back to the OS on a background thread: let it, then collect again.
        await new Promise((r) => setTimeout(r, 300));
        gc();
      }
      const m = process.memoryUsage();
      return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
    },
    /** Churns short-lived objects through the young generation so all its pages are touched (resident) before a baseline. */
    warm() {
      let keep = 0;
      for (let i = 0; i < 400_000; i++) keep += new Array(40).fill(i).length;
      return { keep };
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
