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

const SECRET = 'packages-test-secret-0123456789abcdef';
const API_KEY = 'packages-test-api-key-0123456789';
const ADMIN_PASSWORD = 'packages-test-admin-password';
const ROOT = join(import.meta.dirname, '..');

let work: string;
let dir: string;
let tarballs: Record<string, string>;
let node24: string;
let node22: string;
let node20: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'sb-packages-'));
  const [dirs, n22, n20] = await Promise.all([buildAll(join(work, 'stage')), nodeBinary(22), nodeBinary(20)]);
  tarballs = await packAll(dirs, join(work, 'tarballs'));
  dir = await installInEmptyFolder(Object.values(tarballs), ['ws@8', 'react@19', '@types/react@19', '@types/node@22']);
  [node24, node22, node20] = [process.execPath, n22, n20];
}, 600_000);
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
  if (dir) rmSync(dir, { recursive: true, force: true });
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
