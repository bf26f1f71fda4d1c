import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from './ports.ts';

const CLI = fileURLToPath(new URL('../../packages/server/src/cli.ts', import.meta.url));

export interface GatewayProcess {
  port: number;
  url: string;
  wsUrl: string;
  proc: ChildProcess;
  /** Everything the process wrote (stdout and stderr). */
  output(): string;
  /** SIGKILL: a crash. */
  kill(): Promise<void>;
  /** SIGTERM: graceful shutdown; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** Start again with the same port, arguments and environment. */
  restart(): Promise<void>;
}

/**
 * Runs the real `switchboard serve` CLI as a child process on a free port (for crash,
 * restart and multi-node tests). `env` adds to the environment; `args` to the command line.
 */
export async function startGatewayProcess(o: { args?: string[]; env?: Record<string, string>; port?: number } = {}): Promise<GatewayProcess> {
  const port = o.port ?? (await freePort());
  let out = '';
  let proc!: ChildProcess;
  const launch = async () => {
    proc = spawn(process.execPath, [CLI, 'serve', '--port', String(port), '--host', '127.0.0.1', ...(o.args ?? [])], {
      env: { ...process.env, SWITCHBOARD_LOG_LEVEL: 'warn', ...o.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (out += d));
    const current = proc;
    try {
      // Generous: on a loaded two-core machine a cold start (type stripping, imports) is slow.
      await waitFor(async () => {
        if (current.exitCode !== null) throw new Error(`gateway exited ${current.exitCode}: ${out.slice(-2000)}`);
        const r = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
        return r?.ok;
      }, 60_000, `gateway on ${port}`);
    } catch (err) {
      // Never leave a half-started gateway behind a failed test.
      if (current.exitCode === null && current.signalCode === null) current.kill('SIGKILL');
      throw err;
    }
  };
  const exit = (p: ChildProcess) => (p.exitCode !== null || p.signalCode !== null ? Promise.resolve(p.exitCode) : new Promise<number | null>((r) => p.once('exit', (c) => r(c))));
  await launch();
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    get proc() { return proc; },
    output: () => out,
    async kill() { const e = exit(proc); proc.kill('SIGKILL'); await e; },
    async stop() { const e = exit(proc); proc.kill('SIGTERM'); return e; },
    restart: launch,
  } as GatewayProcess;
}
