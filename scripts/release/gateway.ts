/**
 * The installed gateway, run as a user runs it: `npx switchboard serve` in the folder the
 * tarballs were installed into, on the Node whose directory comes first on PATH.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, waitFor } from '../../test/support/ports.ts';
import { cleanEnv } from './install.ts';

/** A running installed gateway. */
export interface InstalledGateway {
  url: string;
  wsUrl: string;
  /** Everything it printed. */
  output(): string;
  /**
   * SIGTERM to its process group (npx, the gateway, and under --workers every worker), as an
   * orchestrator stops a container; resolves with everything it printed once all have exited.
   */
  stop(): Promise<string>;
}

/** PATH with `node`'s directory first (so `npx` and the `switchboard` shebang use it). */
const pathWith = (node: string): string => `${dirname(node)}:${process.env.PATH ?? ''}`;

/** `npx switchboard <args>` in `dir` on `node`; resolves with its output (throws when it fails). */
export async function switchboard(dir: string, node: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await promisify(execFile)('npx', ['--no-install', 'switchboard', ...args], { cwd: dir, env: cleanEnv({ PATH: pathWith(node), ...env }), encoding: 'utf8' });
  return stdout.trim();
}

/**
 * Starts `npx switchboard serve --port P --host 127.0.0.1 ...args` in `dir` and waits until
 * `/readyz` answers 200.
 */
export async function startInstalledGateway(dir: string, node: string, args: string[], env: Record<string, string> = {}): Promise<InstalledGateway> {
  const port = await freePort();
  let out = '';
  // Its own process group: npx, and under --workers the primary's workers, end together.
  const proc: ChildProcess = spawn('npx', ['--no-install', 'switchboard', 'serve', '--port', String(port), '--host', '127.0.0.1', ...args], {
    cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    env: cleanEnv({ PATH: pathWith(node), SWITCHBOARD_LOG_LEVEL: 'info', ...env }),
  });
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  // 'close': the process exited and its output (the gateway's, through npx's) is all read.
  const exited = new Promise<void>((r) => proc.once('close', () => r()));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`switchboard serve exited ${proc.exitCode}: ${out.slice(-3000)}`);
      return (await fetch(`${url}/readyz`).catch(() => undefined))?.ok;
    }, 90_000, `the installed gateway on ${port}`);
  } catch (err) {
    if (proc.exitCode === null && proc.signalCode === null) process.kill(-proc.pid!, 'SIGKILL');
    throw err;
  }
  return {
    url, wsUrl: `ws://127.0.0.1:${port}/ws`,
    output: () => out,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) process.kill(-proc.pid!, 'SIGTERM');
      const done = await Promise.race([exited.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 30_000).unref())]);
      if (!done) {
        process.kill(-proc.pid!, 'SIGKILL');
        throw new Error(`the installed gateway did not stop on SIGTERM: ${out.slice(-2000)}`);
      }
      return out;
    },
  };
}

/** A config file for the smoke runs: the namespaces the checks use, history kept. */
const SMOKE_CONFIG = {
  namespaces: { chat: { history: { size: 100, ttl: '1h' }, allowSubscribe: true, allowPublish: true } },
};

/** Writes `SMOKE_CONFIG` (plus `extra`) into `dir` and returns its path. */
export async function writeSmokeConfig(dir: string, extra: Record<string, unknown> = {}): Promise<string> {
  const { writeFileSync } = await import('node:fs');
  const file = join(dir, `switchboard-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify({ ...SMOKE_CONFIG, ...extra }, null, 2));
  return file;
}
