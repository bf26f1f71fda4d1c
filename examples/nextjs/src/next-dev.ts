/**
 * Runs the Next.js example with `next dev` (Turbopack compiles each page when it is first
 * requested, so nothing is built up front) and resolves once Next logs "Ready".
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Options of `startNextExample`. */
export interface NextExampleOptions {
  /** The gateway's HS256 secret (its `auth.jwtSecret`): the token route signs with it, on the server only. */
  secret: string;
  /** The gateway's WebSocket URL as the browser reaches it (`ws://127.0.0.1:8080/ws`). */
  gatewayUrl: string;
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Next's output (each line) besides the ones this waits for. */
  onLog?: (line: string) => void;
}

const app = fileURLToPath(new URL('..', import.meta.url));
const nextBin = fileURLToPath(import.meta.resolve('next/dist/bin/next'));

/** Starts `next dev` in examples/nextjs; resolves with its URL and a `close()` that stops it. */
export async function startNextExample(o: NextExampleOptions): Promise<{ url: string; close(): Promise<void> }> {
  const host = o.host ?? '127.0.0.1';
  const child = spawn(process.execPath, [nextBin, 'dev', '--turbopack', '-p', String(o.port), '-H', host], {
    cwd: app,
    env: {
      ...process.env,
      NEXT_TELEMETRY_DISABLED: '1',
      SWITCHBOARD_JWT_SECRET: o.secret,
      NEXT_PUBLIC_SWITCHBOARD_URL: o.gatewayUrl,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // its own process group: close() stops next and the workers it starts
    detached: true,
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const output: string[] = [];
  const ready = new Promise<void>((resolve, reject) => {
    const onLine = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (!line.trim()) continue;
        output.push(line);
        o.onLog?.(line);
        if (/\bReady in\b/.test(line)) resolve();
      }
    };
    child.stdout.on('data', onLine);
    child.stderr.on('data', onLine);
    void exited.then((code) => reject(new Error(`next dev exited (${code}) before it was ready:\n${output.join('\n')}`)));
  });
  const close = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      return;
    }
    await exited;
  };
  try {
    await ready;
  } catch (err) {
    await close();
    throw err;
  }
  return { url: `http://${host}:${o.port}`, close };
}
