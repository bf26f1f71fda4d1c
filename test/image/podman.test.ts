/**
 * The container image itself (Dockerfile), built and run with a real container engine:
 * `npm run test:image` (not part of `npm test`: building the image installs the whole
 * workspace inside it and takes minutes; `test/packages.test.ts` runs the image's steps on
 * every `npm test`). No image registry is reachable here, so the base (`NODE_IMAGE`) is made
 * from Debian bookworm by `debootstrap` with this run's Node 24 and npm in it and a `node`
 * user (uid 1000): what `node:24-bookworm-slim` offers. podman runs rootful with runc
 * (crun refuses this machine's hybrid cgroup mounts), vfs storage in a folder of its own and
 * the host network. See docs/deployment.md.
 *
 * The image starts as the non-root user with its own config, reports healthy, serves a
 * client, and on `podman stop` (SIGTERM) drains: the client is told to reconnect (3001) and
 * the container exits 0.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { appendFileSync, cpSync, existsSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { Switchboard } from '@switchboard/client';
import { freePort, waitFor } from '../support/ports.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const WORK = process.env.SWITCHBOARD_IMAGE_WORK ?? '/var/tmp/switchboard-image';
const NODE_MAJOR = process.versions.node.split('.')[0]!;
const BASE = `localhost/switchboard-node-base:${process.versions.node}`;
const IMAGE = 'localhost/switchboard:test';
const SECRET = 'image-test-jwt-secret-0123456789abcdef';
const API_KEY = 'image-test-api-key-0123456789';
const NAME = `switchboard-image-test-${process.pid}`;

/** podman with the settings this machine needs, its storage in WORK. */
const PODMAN = ['--root', join(WORK, 'storage'), '--runroot', join(WORK, 'run'), '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--runtime', 'runc', '--events-backend', 'file'];
const LIMITS = ['--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096'];
const podman = (args: string[], o: { input?: Buffer | string; timeoutMs?: number } = {}) => {
  const r = spawnSync('podman', [...PODMAN, ...args], { input: o.input, encoding: 'utf8', timeout: o.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`podman ${args.join(' ')} exited ${r.status}: ${r.stderr?.slice(-2000)}`);
  return r.stdout.trim();
};

/** Installs what the test needs from Debian's packages when missing (we run as root). */
function ensureTools(): void {
  const missing = ['podman', 'runc', 'debootstrap'].filter((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status !== 0);
  if (missing.length === 0) return;
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { stdio: 'ignore', timeout: 600_000 });
}

/** The base image: Debian bookworm (debootstrap, cached in WORK) with Node and npm and a `node` user. */
function ensureBase(): void {
  if (spawnSync('podman', [...PODMAN, 'image', 'exists', BASE]).status === 0) return;
  const rootfs = join(WORK, 'bookworm');
  if (!existsSync(join(rootfs, 'etc/debian_version'))) {
    mkdirSync(WORK, { recursive: true });
    execFileSync('debootstrap', ['--variant=minbase', 'bookworm', rootfs, 'http://deb.debian.org/debian'], { stdio: 'ignore', timeout: 1_200_000 });
  }
  const tree = join(WORK, `base-${process.versions.node}`);
  execFileSync('rm', ['-rf', tree]);
  execFileSync('cp', ['-a', rootfs, tree]);
  cpSync(process.execPath, join(tree, 'usr/local/bin/node'));
  const npmRoot = dirname(dirname(execFileSync('sh', ['-c', 'readlink -f "$(command -v npm)"'], { encoding: 'utf8' }).trim()));
  cpSync(npmRoot, join(tree, 'usr/local/lib/node_modules/npm'), { recursive: true, dereference: true });
  for (const bin of ['npm', 'npx']) execFileSync('ln', ['-sf', `../lib/node_modules/npm/bin/${bin}-cli.js`, join(tree, 'usr/local/bin', bin)]);
  // The machine's certificate authorities (its egress may be intercepted by a proxy of its own):
  // the build's npm reaches the registry as the host's npm does, as a company's base image would.
  mkdirSync(join(tree, 'etc/ssl/certs'), { recursive: true });
  cpSync('/etc/ssl/certs/ca-certificates.crt', join(tree, 'etc/ssl/certs/ca-certificates.crt'));
  appendFileSync(join(tree, 'etc/passwd'), 'node:x:1000:1000::/home/node:/bin/sh\n');
  appendFileSync(join(tree, 'etc/group'), 'node:x:1000:\n');
  mkdirSync(join(tree, 'home/node'), { recursive: true });
  execFileSync('chown', ['1000:1000', join(tree, 'home/node')]);
  const tar = execFileSync('tar', ['-C', tree, '-c', '.'], { maxBuffer: 2 * 1024 * 1024 * 1024 });
  const env = ['PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin', 'NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt', 'npm_config_cafile=/etc/ssl/certs/ca-certificates.crt'];
  podman(['import', ...env.flatMap((e) => ['--change', `ENV ${e}`]), '-', BASE], { input: tar, timeoutMs: 600_000 });
  execFileSync('rm', ['-rf', tree]);
}

let port = 0;

beforeAll(async () => {
  ensureTools();
  ensureBase();
  // docker format: the OCI image format has no HEALTHCHECK
  podman(['build', '--format', 'docker', '--network', 'host', ...LIMITS, '--build-arg', `NODE_IMAGE=${BASE}`, '-t', IMAGE, ROOT], { timeoutMs: 1_800_000 });
  port = await freePort();
}, 3_600_000);

afterAll(() => {
  spawnSync('podman', [...PODMAN, 'rm', '-f', NAME]);
});

describe(`the image (Node ${NODE_MAJOR} on Debian bookworm, podman)`, () => {
  it('runs as the non-root user with its config, health check and stop signal', () => {
    const image = JSON.parse(podman(['image', 'inspect', IMAGE]))[0];
    const config = image.Config;
    expect(config.User).toBe('node');
    expect(config.Entrypoint).toEqual(['node', '/app/node_modules/@switchboard/server/bin/switchboard.js']);
    expect(config.Cmd).toEqual(['serve']);
    expect(config.StopSignal).toBe('SIGTERM');
    expect(config.Env).toContain('SWITCHBOARD_CONFIG=/etc/switchboard/switchboard.json');
    // only runtime dependencies: no test tooling in the image
    expect(podman(['run', '--rm', '--network', 'host', ...LIMITS, '--entrypoint', 'sh', IMAGE, '-c', 'ls /app/node_modules; ls /app/node_modules/@switchboard'])).not.toMatch(/vitest|playwright|typescript/);
    expect((image.Healthcheck ?? config.Healthcheck)?.Test).toEqual(['CMD', 'node', '-e', expect.stringContaining('/readyz')]);
  }, 120_000);

  it('starts healthy, serves a client, and drains on podman stop: the client is told to reconnect, exit 0', async () => {
    podman(['run', '-d', '--name', NAME, '--network', 'host', ...LIMITS, '-v', `${NAME}-data:/data`,
      '-e', `SWITCHBOARD_PORT=${port}`, '-e', 'SWITCHBOARD_HOST=127.0.0.1', '-e', `SWITCHBOARD_JWT_SECRET=${SECRET}`, '-e', `SWITCHBOARD_API_KEY=${API_KEY}`,
      IMAGE]);
    await waitFor(() => spawnSync('podman', [...PODMAN, 'healthcheck', 'run', NAME]).status === 0, 60_000, 'the container\'s health check to pass');
    expect(podman(['exec', NAME, 'id', '-u'])).toBe('1000');
    expect(podman(['exec', NAME, 'ls', '/data'])).toContain('switchboard.db');

    const { mintToken } = await import('../../packages/server/src/auth/mint.ts');
    const token = await mintToken({ secret: SECRET, sub: 'image-user', channels: ['image'], ttlSec: 300 });
    const client = new Switchboard(`ws://127.0.0.1:${port}/ws`, { token });
    const closes: number[] = [];
    client.on('disconnected', (e) => closes.push(e.code));
    const sub = client.subscribe('image');
    const got = new Promise((resolve) => sub.on('message', (m) => resolve(m.data)));
    await sub.ready();
    const res = await fetch(`http://127.0.0.1:${port}/api/publish`, {
      method: 'POST', headers: { authorization: `apikey ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'image', data: { hello: 'from the image' } }),
    });
    expect(res.status).toBe(200);
    expect(await got).toEqual({ hello: 'from the image' });

    // Asynchronously: the client (in this process) answers the close frame meanwhile.
    await promisify(execFile)('podman', [...PODMAN, 'stop', '-t', '15', NAME], { timeout: 60_000 });
    await waitFor(() => closes.length > 0, 10_000, 'the client to be told');
    expect(closes[0]).toBe(3001);
    const exit = { code: podman(['inspect', '--format', '{{.State.ExitCode}}', NAME]), logs: podman(['logs', NAME]).slice(-3000) };
    expect(exit.logs).toMatch(/shutdown complete/);
    expect(exit, 'the exit code and the last logs').toMatchObject({ code: '0' });
    client.close();
  }, 180_000);
});
