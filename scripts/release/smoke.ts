/**
 * The release's run of the installed tarballs (test/packages.test.ts runs the same steps in
 * the suite): the gateway on Node 24 and 22, alone and with `--workers 2 --redis`, the admin
 * UI, the client from Node 20/22/24 and Chromium, the declarations.
 */
import { join } from 'node:path';
import { launchChromium } from '../../test/support/chromium.ts';
import { startRedis } from '../../test/support/redis.ts';
import { runBrowserClient, runNodeClient, serveBrowserFiles, typeCheck } from './clients.ts';
import { startInstalledGateway, switchboard, writeSmokeConfig } from './gateway.ts';

const SECRET = 'release-check-secret-0123456789abcdef';
const API_KEY = 'release-check-api-key-0123456789';

/** Where the install is and which Node binaries to use. */
export interface SmokeOptions { dir: string; node20: string; node22: string; node24: string; tsc: string; log(what: string): void }

/** Runs every check; returns what failed (empty: all passed). */
export async function smokeTest(o: SmokeOptions): Promise<string[]> {
  const problems: string[] = [];
  const check = async (what: string, f: () => Promise<void>) => {
    o.log(what);
    try {
      await f();
    } catch (err) {
      problems.push(`${what}: ${(err as Error).message}`);
    }
  };
  const env = { SWITCHBOARD_JWT_SECRET: SECRET, SWITCHBOARD_API_KEY: API_KEY, SWITCHBOARD_ADMIN_PASSWORD: 'release-check-admin' };
  await check('declarations type-check', async () => {
    const out = await typeCheck(o.dir, o.tsc);
    if (out) throw new Error(out);
  });
  const [browser, pages] = await Promise.all([launchChromium(), serveBrowserFiles(o.dir)]);
  try {
    for (const [label, node] of [['24', o.node24], ['22', o.node22]] as const) {
      await check(`Node ${label}: npx switchboard serve, admin UI, clients`, async () => {
        const config = await writeSmokeConfig(o.dir, { storage: `sqlite:${join(o.dir, `data-${label}.db`)}`, allowedOrigins: [pages.origin] });
        const gw = await startInstalledGateway(o.dir, node, ['--config', config], env);
        try {
          const html = await (await fetch(`${gw.url}/admin/`)).text();
          const asset = html.match(/src="(\/admin\/assets\/[^"]+\.js)"/)?.[1];
          if (!asset || !(await fetch(`${gw.url}${asset}`)).ok) throw new Error('the admin UI is not served');
          const token = await switchboard(o.dir, node, ['token', '--secret', SECRET, '--sub', 'release', '--channels', 'chat:*', '--publish', 'chat:*']);
          for (const [clientNode, kind] of [[o.node20, 'esm'], [o.node20, 'cjs'], [node, 'esm'], [node, 'cjs']] as const) {
            const r = await runNodeClient(o.dir, clientNode, kind, { wsUrl: gw.wsUrl, httpUrl: gw.url, token, apiKey: API_KEY });
            if ((r.data as { kind?: string }).kind !== kind) throw new Error(`Node client (${kind}) got ${JSON.stringify(r)}`);
          }
          for (const kind of ['script', 'module'] as const) {
            const r = await runBrowserClient(browser, pages.origin, kind, { wsUrl: gw.wsUrl, token });
            if ((r.data as { kind?: string }).kind !== kind) throw new Error(`Chromium client (${kind}) got ${JSON.stringify(r)}`);
          }
        } finally {
          const out = await gw.stop();
          if (!/shutdown complete/.test(out)) problems.push(`Node ${label}: no clean shutdown on SIGTERM: ${out.slice(-1000)}`);
        }
      });
    }
  } finally {
    await browser.close();
    await pages.close();
  }
  await check('Node 22: --workers 2 --redis', async () => {
    const redis = await startRedis();
    try {
      const gw = await startInstalledGateway(o.dir, o.node22, ['--config', await writeSmokeConfig(o.dir), '--workers', '2', '--redis', redis.url], env);
      try {
        const token = await switchboard(o.dir, o.node22, ['token', '--secret', SECRET, '--sub', 'release-w', '--channels', 'chat:*', '--publish', 'chat:*']);
        for (const kind of ['esm', 'cjs'] as const) await runNodeClient(o.dir, o.node22, kind, { wsUrl: gw.wsUrl, httpUrl: gw.url, token, apiKey: API_KEY });
      } finally {
        const out = await gw.stop();
        if ((out.match(/shutdown complete/g) ?? []).length !== 2) problems.push(`--workers 2: both workers did not drain: ${out.slice(-1000)}`);
      }
    } finally {
      await redis.stop();
    }
  });
  return problems;
}
