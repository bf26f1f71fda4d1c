import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort, waitFor } from './ports.ts';
import type { ImageRuntime } from './dockerfile.ts';

/** The unprivileged user the image's entry command runs as here (the image's `node` user is not on this machine). */
const NOBODY = { uid: 65534, gid: 65534 };

/** A running entry command of the image. */
export interface ImageProcess {
  url: string;
  wsUrl: string;
  port: number;
  proc: ChildProcess;
  output(): string;
  /** SIGTERM (what `docker stop` sends); resolves with the exit code and what it printed. */
  stop(): Promise<{ code: number | null; output: string }>;
}

/** An empty directory owned by the unprivileged user: the image's `/data` volume. */
export function dataVolume(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sb-volume-'));
  chownSync(dir, NOBODY.uid, NOBODY.gid);
  return dir;
}

/** A file the unprivileged user can read (a mounted config file); returns its path. */
export function mountFile(content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sb-mount-'));
  chmodSync(dir, 0o755);
  const file = join(dir, 'switchboard.json');
  writeFileSync(file, content, { mode: 0o644 });
  return file;
}

/**
 * The paths the image has, mapped to this machine: `/app` is the folder the tarballs were
 * installed into, `/etc/switchboard/switchboard.json` the config file given, `/data` the volume.
 */
function mapPath(s: string, m: { app: string; config: string; data: string }): string {
  return s.replace('/etc/switchboard/switchboard.json', m.config).replace(/^\/app\//, `${m.app}/`).replace(/(["':])\/data\//g, `$1${m.data}/`);
}

/**
 * Runs the image's `ENTRYPOINT` + `CMD` with its `ENV` as an unprivileged user, `node` being
 * `nodeBin`, on a free port (`SWITCHBOARD_PORT`, as `-e` would set it), and waits for `/readyz`.
 */
export async function startImageEntry(runtime: ImageRuntime, o: { app: string; config: string; data: string; nodeBin: string; env?: Record<string, string> }): Promise<ImageProcess> {
  chmodSync(o.app, 0o755);
  const port = await freePort();
  const env: Record<string, string> = {
    PATH: `${dirname(o.nodeBin)}:/usr/bin:/bin`, HOME: o.data,
    ...Object.fromEntries(Object.entries(runtime.env).map(([k, v]) => [k, mapPath(v, o)])),
    SWITCHBOARD_PORT: String(port), SWITCHBOARD_LOG_LEVEL: 'info', ...o.env,
  };
  const [cmd, ...args] = [...runtime.entrypoint, ...runtime.cmd].map((a) => mapPath(a, o));
  let out = '';
  const proc = spawn(cmd === 'node' ? o.nodeBin : cmd!, args, { env, cwd: o.app, stdio: ['ignore', 'pipe', 'pipe'], ...NOBODY });
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const closed = new Promise<number | null>((r) => proc.once('close', (code) => r(code)));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(async () => {
      if (proc.exitCode !== null) throw new Error(`the entry command exited ${proc.exitCode}: ${out.slice(-3000)}`);
      return (await fetch(`${url}/readyz`).catch(() => undefined))?.ok;
    }, 60_000, 'the image entry command');
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  return {
    url, port, wsUrl: `ws://127.0.0.1:${port}/ws`, proc, output: () => out,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return { code: await closed, output: out };
    },
  };
}

/** Runs the image's `HEALTHCHECK` command against an instance; its exit code. */
export function runHealthcheck(runtime: ImageRuntime, nodeBin: string, port: number): number | null {
  const [cmd, ...args] = runtime.healthcheck!;
  return spawnSync(cmd === 'node' ? nodeBin : cmd!, args, { env: { PATH: `${dirname(nodeBin)}:/usr/bin:/bin`, SWITCHBOARD_PORT: String(port) }, timeout: 10_000, ...NOBODY }).status;
}

/** The image's own config file (deploy/switchboard.json), as the image has it. */
export const imageConfig = (root: string) => readFileSync(join(root, 'deploy/switchboard.json'), 'utf8');
