import cluster, { type Worker } from 'node:cluster';
import type { Logger } from './logger.ts';

export interface WorkersOptions {
  /** How many worker processes (each a full gateway node). */
  count: number;
  log: Logger;
  /** Give workers this long to drain on SIGTERM before they are killed (ms). */
  shutdownTimeoutMs: number;
  /** Extra environment for workers (e.g. the dev-mode secret, so every worker has the same). */
  env?: Record<string, string>;
  /** Called once, when the first worker listens, with the port it got (for the dev banner). */
  onListening?: (port: number) => void;
}

/**
 * `switchboard serve --workers N`, the primary process: forks N workers that each run the
 * whole gateway and share the listening port (node:cluster hands out connections round
 * robin). Workers coordinate through the Redis broker like separate machines would, so no
 * connection needs to stay on one worker. A worker that dies is replaced (after a short,
 * growing delay if it keeps dying); SIGTERM/SIGINT drains every worker, then exits.
 */
export function runWorkers(o: WorkersOptions): void {
  cluster.setupPrimary({ execArgv: workerExecArgv(process.execArgv, process.env.NODE_OPTIONS) });
  let stopping = false;
  let recentDeaths = 0;
  const fork = (): Worker => cluster.fork({ ...o.env, SWITCHBOARD_WORKER: '1' });
  for (let i = 0; i < o.count; i++) fork();
  o.log.info({ workers: o.count, pid: process.pid }, 'switchboard primary: workers started');
  const { onListening } = o;
  if (onListening) cluster.once('listening', (_worker, address) => onListening(address.port));

  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    recentDeaths++;
    setTimeout(() => (recentDeaths = Math.max(0, recentDeaths - 1)), 60_000).unref();
    const delay = Math.min(100 * 2 ** Math.min(recentDeaths, 6), 5000);
    o.log.warn({ worker: worker.process.pid, code, signal, restartInMs: delay }, 'switchboard worker died; replacing it');
    setTimeout(() => {
      if (!stopping) fork();
    }, delay);
  });

  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    o.log.info({ signal }, 'switchboard primary: stopping workers');
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    if (workers.length === 0) process.exit(0);
    for (const w of workers) w.process.kill('SIGTERM');
    setTimeout(() => {
      for (const w of workers) w.process.kill('SIGKILL');
      process.exit(1);
    }, o.shutdownTimeoutMs + 1000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** V8's young generation cap for gateway processes, MiB per semi-space (see `workerExecArgv`). */
export const WORKER_SEMI_SPACE_MB = 16;

/** True when the flags or `NODE_OPTIONS` set the young generation's size already. */
function semiSpaceSet(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  return [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].some((a) => a.startsWith('--max-semi-space-size'));
}

/**
 * Node flags for a gateway process (each worker, and a single `serve`): the given ones, plus
 * `--max-semi-space-size=16` unless the operator set one (in the flags or `NODE_OPTIONS`).
 * V8 sizes the young generation by the machine's memory (on a 24 GiB machine it grew to
 * 128 MiB after a connect storm) and keeps it resident: per process, so N workers paid it N
 * times, and a single process tripled its memory per idle connection (docs/performance.md).
 */
export function workerExecArgv(execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  return semiSpaceSet(execArgv, nodeOptions) ? [...execArgv] : [...execArgv, `--max-semi-space-size=${WORKER_SEMI_SPACE_MB}`];
}

/**
 * A single `serve` process started without a young-generation size restarts itself in place
 * with the workers' (`process.execve`: the same process id, so a container's PID 1 and its
 * signals are unchanged; Node 22.15+ and 23.11+, not on Windows). Not under a supervisor that
 * talks to it over IPC (`npm start`), where an exec would cut the channel. Returns only when
 * it does not restart.
 */
export function execLeanIfNeeded(env: NodeJS.ProcessEnv = process.env): void {
  const execve = (process as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never }).execve;
  if (typeof execve !== 'function' || process.send !== undefined || semiSpaceSet(process.execArgv, env.NODE_OPTIONS)) return;
  execve(process.execPath, [process.execPath, ...workerExecArgv(process.execArgv, env.NODE_OPTIONS), ...process.argv.slice(1)], env);
}

/** True in the primary of `serve --workers N` (N > 1): it forks and supervises, it does not serve. */
export function isWorkersPrimary(count: number | undefined): boolean {
  return count !== undefined && count > 1 && cluster.isPrimary;
}
