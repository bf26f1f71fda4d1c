/**
 * Switchboard through its real CLI in multi-process mode: `switchboard serve --workers N
 * --redis …` (node:cluster workers sharing one port, coordinating through a redis-server
 * this wrapper starts and stops). Lets one gateway hold more connections than one
 * process's RLIMIT_NOFILE allows. Memory reported is the sum over the process tree.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from '../../test/support/ports.ts';
import { rssOf } from '../lib/machine.ts';
import { serveControl, settings } from './control.ts';

const CLI = fileURLToPath(new URL('../../packages/server/src/cli.ts', import.meta.url));
const workers = Number(process.env.BENCH_WORKERS ?? 2);
if (spawnSync('redis-server', ['--version']).status !== 0) throw new Error('redis-server is not installed (npm test installs it, or apt-get install redis-server)');

const redisPort = await freePort();
const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxclients', '100000'], { stdio: 'ignore' });
const port = settings.port || (await freePort());
const dir = mkdtempSync(join(tmpdir(), 'sb-bench-'));
const config = join(dir, 'config.json');
writeFileSync(config, JSON.stringify({
  storage: 'redis',
  logLevel: 'warn',
  heartbeat: { intervalMs: settings.heartbeatMs },
  namespaces: { bench: { allowSubscribe: true, allowPublish: true }, u: { allowSubscribe: true, allowPublish: true }, g: { allowSubscribe: true, allowPublish: true } },
  limits: { commandsPerSecond: 1_000_000, connectionsPerIpPerSecond: 1_000_000 },
  shutdown: { reconnectSpreadMs: 1500 },
}));
await new Promise((r) => setTimeout(r, 300));
const gw = spawn(process.execPath, [CLI, 'serve', '--config', config, '--port', String(port), '--host', '127.0.0.1', '--workers', String(workers), '--redis', `redis://127.0.0.1:${redisPort}`, '--jwt-secret', settings.secret], { stdio: ['ignore', 'inherit', 'inherit'] });
await waitFor(async () => {
  if (gw.exitCode !== null) throw new Error(`gateway exited ${gw.exitCode}`);
  return (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok;
}, 60_000, 'gateway workers');

/** Every process under the gateway (primary and workers). */
function tree(pid: number): number[] {
  const out = [pid];
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const ppid = Number(readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      if (ppid === pid) out.push(...tree(Number(p)));
    } catch { /* gone */ }
  }
  return out;
}

const stop = async () => {
  if (gw.exitCode === null) {
    const exited = new Promise((r) => gw.once('exit', r));
    gw.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
    if (gw.exitCode === null) gw.kill('SIGKILL');
  }
  redis.kill('SIGKILL');
};
process.on('SIGTERM', () => void stop().finally(() => process.exit(0)));
serveControl(port, stop, {
  mem: () => {
    const rss = tree(gw.pid!).reduce((a, p) => a + rssOf(p), 0);
    return { rss, heapUsed: 0, heapTotal: 0, external: 0, arrayBuffers: 0 };
  },
});
