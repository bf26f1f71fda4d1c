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
export async function startGatewayProcess(o: { args?: string[]; env?: Record<string, string>; port?: number; startTimeoutMs?: number; host?: string | null; wrap?: string[]; cwd?: string } = {}): Promise<GatewayProcess> {
  const port = o.port ?? (await freePort());
  // `host`/`wrap`: listen on another address (null: no --host flag, reached at 127.0.0.1), run under a prefix (`ip netns exec <ns>`).
  const host = o.host ?? '127.0.0.1';
  const hostArgs = o.host === null ? [] : ['--host', host];
  const wrap = o.wrap ?? [];
  let out = '';
  let proc!: ChildProcess;
  const launch = async () => {
    const argv = [process.execPath, CLI, 'serve', '--port', String(port), ...hostArgs, ...(o.args ?? [])];
    proc = spawn([...wrap, ...argv][0]!, [...wrap, ...argv].slice(1), {
      env: { ...process.env, SWITCHBOARD_LOG_LEVEL: 'warn', ...o.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(o.cwd ? { cwd: o.cwd } : {}),
    });
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (out += d));
    const current = proc;
    try {
      // Generous: on a loaded two-core machine a cold start (type stripping, imports) is slow.
      await waitFor(async () => {
        if (current.exitCode !== null) throw new Error(`gateway exited ${current.exitCode}: ${out.slice(-2000)}`);
        const r = await fetch(`http://${host}:${port}/healthz`).catch(() => undefined);
        return r?.ok;
      }, o.startTimeoutMs ?? 60_000, `gateway on ${port}`);
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
    url: `http://${host}:${port}`,
    wsUrl: `ws://${host}:${port}/ws`,
    get proc() { return proc; },
    output: () => out,
    async kill() { const e = exit(proc); proc.kill('SIGKILL'); await e; },
    async stop() { const e = exit(proc); proc.kill('SIGTERM'); return e; },
    restart: launch,
  } as GatewayProcess;
}
