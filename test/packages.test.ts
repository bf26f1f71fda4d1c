/**
 * The packages as users get them: `npm run build`, `npm pack` of each, the tarballs installed
 * into an empty folder outside the repository, and then `npx switchboard serve` with a config
 * file (Node 24, the admin UI; Node 22, `--workers 2 --redis`), the client from Node 20+ by
 * import and require and from Chromium by script and module, and the declarations through a
 * strict TypeScript consumer. Built and installed once for the file (docs/releasing.md).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { buildAll } from '../scripts/build.ts';
import { installInEmptyFolder, nodeBinary, packAll } from '../scripts/release/install.ts';
import { manifestProblems } from '../scripts/release/manifests.ts';
import { startInstalledGateway, switchboard, writeSmokeConfig, type InstalledGateway } from '../scripts/release/gateway.ts';
import { runBrowserClient, runNodeClient, serveBrowserFiles, typeCheck } from '../scripts/release/clients.ts';
import { PACKAGES } from '../scripts/build/packages.ts';
import { releaseVersionProblems } from '../scripts/release/versions.ts';
import { launchChromium } from './support/chromium.ts';
import { startRedis, type RedisProcess } from './support/redis.ts';
import { readImageRuntime } from './support/dockerfile.ts';
import { dataVolume, imageConfig, mountFile, runHealthcheck, startImageEntry, type ImageProcess } from './support/image-entry.ts';
import { OtlpReceiver, type ReceivedSpan } from './support/otlp-receiver.ts';
import { startRoundRobin, type RoundRobin } from './support/round-robin.ts';
import { waitFor } from './support/ports.ts';
import { Switchboard } from '@switchboard/client';
import { createServer as createHttpServer, type IncomingHttpHeaders } from 'node:http';
import { existsSync, statSync } from 'node:fs';

const SECRET = 'packages-test-secret-0123456789abcdef';
const API_KEY = 'packages-test-api-key-0123456789';
const ADMIN_PASSWORD = 'packages-test-admin-password';
const ROOT = join(import.meta.dirname, '..');

let work: string;
let dir: string;
/** The image's install: the server's tarballs with runtime dependencies only. */
let imageDir: string;
let tarballs: Record<string, string>;
let node24: string;
let node22: string;
let node20: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'sb-packages-'));
  const [dirs, n22, n20] = await Promise.all([buildAll(join(work, 'stage')), nodeBinary(22), nodeBinary(20)]);
  tarballs = await packAll(dirs, join(work, 'tarballs'));
  [dir, imageDir] = await Promise.all([
    installInEmptyFolder(Object.values(tarballs), ['ws@8', 'react@19', '@types/react@19', '@types/node@22']),
    installInEmptyFolder([tarballs.protocol!, tarballs['api-client']!, tarballs.client!, tarballs.server!], [], { omitDev: true }),
  ]);
  [node24, node22, node20] = [process.execPath, n22, n20];
}, 600_000);
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (imageDir) rmSync(imageDir, { recursive: true, force: true });
});

describe('the packed packages', () => {
  it('carry the CHANGELOG\'s version and depend on each other at it', () => {
    expect(releaseVersionProblems()).toEqual([]);
  });

  it('point at JavaScript and declarations that they hold, and depend on what they import', () => {
    for (const name of PACKAGES) expect(manifestProblems(join(dir, 'node_modules/@switchboard', name))).toEqual([]);
    const client = JSON.parse(readFileSync(join(dir, 'node_modules/@switchboard/client/package.json'), 'utf8'));
    expect(client.dependencies).toBeUndefined();
  });

  it('type-check in a strict consumer (ESM and CJS)', async () => {
    expect(await typeCheck(dir, join(ROOT, 'node_modules/.bin/tsc'))).toBe('');
  });
});

describe('npx switchboard serve from the installed tarball', () => {
  let browser: Browser;
  let gw: InstalledGateway;
  let pages: Awaited<ReturnType<typeof serveBrowserFiles>>;
  let token: string;

  beforeAll(async () => {
    [browser, pages] = await Promise.all([launchChromium(), serveBrowserFiles(dir)]);
    const config = await writeSmokeConfig(dir, { storage: `sqlite:${join(dir, 'data.db')}`, allowedOrigins: [pages.origin] });
    const env = { SWITCHBOARD_JWT_SECRET: SECRET, SWITCHBOARD_API_KEY: API_KEY, SWITCHBOARD_ADMIN_PASSWORD: ADMIN_PASSWORD };
    gw = await startInstalledGateway(dir, node24, ['--config', config], env);
    token = await switchboard(dir, node24, ['token', '--secret', SECRET, '--sub', 'pkg-user', '--channels', 'chat:*', '--publish', 'chat:*']);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await pages?.close();
    if (gw) expect(await gw.stop()).toMatch(/shutdown complete/);
  });

  it('serves the admin UI', async () => {
    const html = await (await fetch(`${gw.url}/admin/`)).text();
    const script = html.match(/src="(\/admin\/assets\/[^"]+\.js)"/)?.[1];
    expect(script).toBeDefined();
    expect((await fetch(`${gw.url}${script}`)).status).toBe(200);
  });

  it('serves the installed client\'s browser bundles at /switchboard.js and /switchboard.mjs', async () => {
    const version = JSON.parse(readFileSync(join(dir, 'node_modules/@switchboard/client/package.json'), 'utf8')).version as string;
    for (const name of ['switchboard.js', 'switchboard.mjs']) {
      const res = await fetch(`${gw.url}/${name}?v=${version}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toContain('immutable');
      expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(join(dir, 'node_modules/@switchboard/client/dist', name)))).toBe(true);
    }
  });

  for (const [node, kind] of [['24', 'esm'], ['24', 'cjs'], ['20', 'esm'], ['20', 'cjs']] as const) {
    it(`the client connects from Node ${node} (${kind === 'esm' ? 'import' : 'require'})`, async () => {
      const r = await runNodeClient(dir, node === '24' ? node24 : node20, kind, { wsUrl: gw.wsUrl, httpUrl: gw.url, token, apiKey: API_KEY });
      expect(r).toMatchObject({ data: { kind }, state: 'connected', terminal: true });
    });
  }

  for (const kind of ['script', 'module'] as const) {
    it(`the client connects from Chromium (<script${kind === 'module' ? ' type="module"' : ' src'}>)`, async () => {
      const r = await runBrowserClient(browser, pages.origin, kind, { wsUrl: gw.wsUrl, token });
      expect(r).toMatchObject({ data: { kind }, offset: 1, state: 'connected', terminal: true });
    });
  }
});

describe('on Node 22 with --workers 2 --redis', () => {
  let redis: RedisProcess;
  let gw: InstalledGateway;

  beforeAll(async () => {
    redis = await startRedis();
    const config = await writeSmokeConfig(dir);
    gw = await startInstalledGateway(dir, node22, ['--config', config, '--workers', '2', '--redis', redis.url], { SWITCHBOARD_JWT_SECRET: SECRET, SWITCHBOARD_API_KEY: API_KEY });
  }, 120_000);
  afterAll(async () => {
    // both workers drained
    if (gw) expect((await gw.stop()).match(/shutdown complete/g)).toHaveLength(2);
    await redis?.stop();
  });

  it('serves clients on both workers through Redis', async () => {
    const token = await switchboard(dir, node22, ['token', '--secret', SECRET, '--sub', 'pkg-22', '--channels', 'chat:*', '--publish', 'chat:*']);
    const reports = await Promise.all((['esm', 'cjs'] as const).map((kind) => runNodeClient(dir, node22, kind, { wsUrl: gw.wsUrl, httpUrl: gw.url, token, apiKey: API_KEY })));
    expect(reports.map((r) => r.data)).toEqual([{ kind: 'esm' }, { kind: 'cjs' }]);
    expect(gw.output()).toMatch(/workers started/);
  });
});

/**
 * The container image's steps, where no container engine runs (docs/deployment.md): the
 * Dockerfile's runtime stage read from the file, its entry command run on the `--omit=dev`
 * install of the tarballs as an unprivileged user, with the image's config file or a mounted one.
 */
describe('the image\'s entry command', () => {
  const runtime = readImageRuntime(join(ROOT, 'Dockerfile'));

  it('the Dockerfile installs the packed server with its runtime dependencies only, and runs it as a non-root user', () => {
    expect(runtime.runs.join('\n')).toMatch(/npm install --omit=dev [^\n]*\/tmp\/tarballs\/\*\.tgz/);
    expect(runtime.user).toBe('node');
    expect(runtime.entrypoint).toEqual(['node', '/app/node_modules/@switchboard/server/bin/switchboard.js']);
    expect(runtime.cmd).toEqual(['serve']);
    expect(runtime.healthcheck).toBeDefined();
  });

  it('starts with the image\'s config (SQLite in the data volume), is healthy, and exits 0 on SIGTERM', async () => {
    const data = dataVolume();
    const config = mountFile(imageConfig(ROOT).replace('sqlite:/data/', `sqlite:${data}/`));
    const gw = await startImageEntry(runtime, { app: imageDir, config, data, nodeBin: node24, env: { SWITCHBOARD_JWT_SECRET: SECRET } });
    try {
      expect(runHealthcheck(runtime, node24, gw.port)).toBe(0);
      expect(existsSync(join(data, 'switchboard.db'))).toBe(true);
      expect(statSync(join(data, 'switchboard.db')).uid).toBe(65534);
    } finally {
      const { code, output } = await gw.stop();
      expect(code).toBe(0);
      expect(output).toMatch(/shutdown complete/);
    }
    expect(runHealthcheck(runtime, node24, gw.port)).toBe(1);
  });

  describe('two of them on Redis behind a balancer, a mounted config, tracing on', () => {
    let redis: RedisProcess;
    let receiver: OtlpReceiver;
    let lb: RoundRobin;
    let app: ReturnType<typeof createHttpServer>;
    const hookCalls: IncomingHttpHeaders[] = [];
    const gws: ImageProcess[] = [];

    beforeAll(async () => {
      app = createHttpServer((req, res) => {
        req.resume();
        req.on('end', () => {
          hookCalls.push(req.headers);
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"allow":true}');
        });
      });
      await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
      [redis, receiver] = await Promise.all([startRedis(), new OtlpReceiver().start()]);
      const config = mountFile(JSON.stringify({
        host: '0.0.0.0',
        namespaces: { chat: { history: { size: 100, ttl: '1h' }, allowSubscribe: true, allowPublish: true } },
        hooks: { publish: { url: `http://127.0.0.1:${(app.address() as { port: number }).port}/publish` } },
        shutdown: { reconnectSpreadMs: 500 },
      }));
      const env = {
        SWITCHBOARD_JWT_SECRET: SECRET, SWITCHBOARD_REDIS_URL: redis.url, SWITCHBOARD_STORAGE: 'redis',
        SWITCHBOARD_TRACING: 'true', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100',
      };
      for (let i = 0; i < 2; i++) gws.push(await startImageEntry(runtime, { app: imageDir, config, data: dataVolume(), nodeBin: node24, env }));
      lb = await startRoundRobin(gws.map((g) => g.port));
    }, 120_000);
    afterAll(async () => {
      await lb?.close();
      await Promise.all(gws.map((g) => g.stop()));
      await Promise.all([redis?.stop(), receiver?.close(), new Promise((r) => app?.close(r))]);
    });

    it('drains on SIGTERM: the client moves to the other gateway and gets what was published meanwhile', async () => {
      const { mintToken } = await import('../packages/server/src/auth/mint.ts');
      const client = new Switchboard(lb.wsUrl, { token: await mintToken({ sub: 'image-user', secret: SECRET, ttlSec: 600 }), reconnect: { minDelayMs: 50, maxDelayMs: 300 } });
      const sub = client.subscribe('chat:image');
      const got: unknown[] = [];
      sub.on('message', (m) => got.push(m.data));
      await sub.ready();
      // Which gateway holds it: the one whose stats count a connection.
      const counts = await Promise.all(gws.map(async (g) => (await (await fetch(`${g.url}/metrics`)).text()).match(/^switchboard_connections_authenticated (\d+)/m)?.[1]));
      const holder = counts.indexOf('1');
      expect(holder).toBeGreaterThanOrEqual(0);
      const other = gws[1 - holder]!;
      const disconnected = new Promise((r) => client.once('disconnected', r));
      const { code, output } = await gws[holder]!.stop();
      expect(code).toBe(0);
      expect(output).toMatch(/shutdown complete/);
      await disconnected;
      await client.publish('chat:image', { after: 'drain' });
      await waitFor(() => got.length > 0, 20_000, 'the publication after the move');
      expect(got).toEqual([{ after: 'drain' }]);
      expect((await (await fetch(`${other.url}/metrics`)).text()).match(/^switchboard_connections_authenticated (\d+)/m)?.[1]).toBe('1');
      client.close();
    });

    it('a traced publication reaches the OTLP receiver with its hook call as a child span', async () => {
      const traceparent = hookCalls.map((h) => h.traceparent).find((t) => typeof t === 'string') as string | undefined;
      expect(traceparent).toBeDefined();
      const traceId = traceparent!.split('-')[1]!;
      const names = ['switchboard command publish', 'switchboard hook publish', 'switchboard publish', 'switchboard fanout'];
      await waitFor(() => names.every((n) => receiver.trace(traceId).some((s) => s.name === n)), 20_000, 'the trace at the receiver');
      const spans = receiver.trace(traceId);
      const by = (n: string) => spans.find((s: ReceivedSpan) => s.name === n)!;
      expect(by('switchboard hook publish').parentSpanId).toBe(by('switchboard command publish').spanId);
      expect(traceparent!.split('-')[2]).toBe(by('switchboard hook publish').spanId);
      expect(by('switchboard publish').parentSpanId).toBe(by('switchboard command publish').spanId);
    });
  });
});
