/**
 * The installed client packages used as an application uses them: from Node by `import` and
 * `require` (the API client publishing, the SDK receiving), from Chromium by a classic
 * `<script src=switchboard.js>` and by an ES module, and by TypeScript through their declarations.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { cleanEnv } from './install.ts';

const run = promisify(execFile);

/** What a client run reports: the publication it received and its state then. */
export interface ClientReport { data: unknown; offset: number; state: string; terminal: boolean }

/** A Node program that subscribes with the SDK, publishes with the API client and prints what came. */
const nodeProgram = (load: string) => `${load}
const WS = globalThis.WebSocket ?? wsPackage.WebSocket; // Node 20 has none built in
const c = new Switchboard(process.env.WS, { token: process.env.TOKEN, WebSocket: WS });
const channel = 'chat:' + process.env.KIND;
const sub = c.subscribe(channel);
const got = new Promise((resolve) => sub.on('message', (m) => resolve(m)));
sub.ready().then(() => new SwitchboardApi({ url: process.env.HTTP, apiKey: process.env.API_KEY }).publish(channel, { kind: process.env.KIND })).then(async () => {
  const m = await got;
  console.log(JSON.stringify({ data: m.data, offset: m.offset, state: c.state, terminal: isTerminalCloseCode(3504) }));
  c.close();
}, (err) => { console.error(err); process.exit(1); });
`;

/** Runs the SDK from Node (`esm`: import, `cjs`: require) in the install folder `dir`. */
export async function runNodeClient(dir: string, node: string, kind: 'esm' | 'cjs', o: { wsUrl: string; httpUrl: string; token: string; apiKey: string }): Promise<ClientReport> {
  const file = join(dir, kind === 'esm' ? 'client-esm.mjs' : 'client-cjs.cjs');
  writeFileSync(file, nodeProgram(kind === 'esm'
    ? "import { Switchboard, isTerminalCloseCode } from '@switchboard/client';\nimport { SwitchboardApi } from '@switchboard/api-client';\nimport * as wsPackage from 'ws';"
    : "const { Switchboard, isTerminalCloseCode } = require('@switchboard/client');\nconst wsPackage = require('ws');\nconst { SwitchboardApi } = require('@switchboard/api-client');"));
  const r = await run(node, [file], {
    cwd: dir, encoding: 'utf8', timeout: 30_000,
    env: cleanEnv({ WS: o.wsUrl, HTTP: o.httpUrl, TOKEN: o.token, API_KEY: o.apiKey, KIND: kind }),
  });
  return JSON.parse(r.stdout) as ClientReport;
}

/** A page: loads the SDK as a classic script or an ES module, and puts the class on `window.SB`. */
const PAGES = {
  script: '<!doctype html><meta charset="utf-8"><script src="/switchboard.js"></script><script>window.SB = window.Switchboard;</script>',
  module: '<!doctype html><meta charset="utf-8"><script type="module">import { Switchboard } from "/switchboard.mjs"; window.SB = Switchboard;</script>',
};

/**
 * Serves the installed client's two browser files and a page per kind on a free port; the
 * page's origin must be in the gateway's `allowedOrigins` (start this first for it).
 */
export async function serveBrowserFiles(dir: string): Promise<{ origin: string; close(): Promise<void> }> {
  const dist = join(dir, 'node_modules/@switchboard/client/dist');
  const files: Record<string, Buffer> = { '/switchboard.js': readFileSync(join(dist, 'switchboard.js')), '/switchboard.mjs': readFileSync(join(dist, 'switchboard.mjs')) };
  const server = createServer((req, res) => {
    const page = req.url === '/script' ? PAGES.script : req.url === '/module' ? PAGES.module : undefined;
    if (page) return void res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    const file = req.url ? files[req.url] : undefined;
    if (file) return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(file);
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    origin: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** Opens the page of `kind` in Chromium, connects, subscribes, publishes and reports what came back. */
export async function runBrowserClient(browser: Browser, origin: string, kind: 'script' | 'module', o: { wsUrl: string; token: string }): Promise<ClientReport> {
  const page = await browser.newPage();
  try {
    await page.goto(`${origin}/${kind}`);
    await page.waitForFunction(() => (window as unknown as { SB?: unknown }).SB !== undefined, undefined, { timeout: 20_000 });
    return await page.evaluate(async ({ wsUrl, token, kind }) => {
      const SB = (window as unknown as { SB: new (u: string, o: object) => any }).SB;
      const c = new SB(wsUrl, { token });
      const sub = c.subscribe(`chat:browser-${kind}`);
      const got = new Promise<any>((resolve) => sub.on('message', resolve));
      await sub.ready();
      await c.publish(`chat:browser-${kind}`, { kind });
      const m = await got;
      const report = { data: m.data, offset: m.offset, state: c.state, terminal: (SB as any).isTerminalCloseCode?.(3504) ?? true };
      c.close();
      return report;
    }, { ...o, kind });
  } finally {
    await page.close();
  }
}

/** A strict TypeScript consumer of every package's declarations (ESM and CJS); tsc's output ('' when clean). */
export async function typeCheck(dir: string, tsc: string): Promise<string> {
  const esm = `import { Switchboard, SwitchboardError, type Publication } from '@switchboard/client';
import { SwitchboardApi } from '@switchboard/api-client';
import { useSubscription, SwitchboardProvider } from '@switchboard/react';
import { createServer, type SwitchboardServer } from '@switchboard/server';
import { CloseCode } from '@switchboard/protocol';
const c = new Switchboard('wss://example.com/ws', { token: async () => 't', offlineQueue: { max: 10, overflow: 'reject-oldest' } });
c.on('disconnected', (e) => { const n: number | null = e.reconnectInMs; void n; });
const s = c.subscribe('chat:x');
s.on('message', (m: Publication) => m.offset);
c.publish('chat:x', 1).then((r) => r.offset, (e: SwitchboardError) => e.code);
// @ts-expect-error unknown event names do not compile
c.on('nope', () => {});
void new SwitchboardApi({ url: 'http://x', apiKey: 'k' }).publish('chat:x', {});
void useSubscription; void SwitchboardProvider; void CloseCode;
const server: Promise<SwitchboardServer> = createServer({ options: { port: 0 } });
void server;
`;
  const cjs = `import { Switchboard } from '@switchboard/client';
import { useConnectionState } from '@switchboard/react';
const c = new Switchboard('wss://example.com/ws', {});
c.subscribe('chat:x').on('message', (m) => m.data);
void useConnectionState;
`;
  writeFileSync(join(dir, 'use.mts'), esm);
  writeFileSync(join(dir, 'use.cts'), cjs);
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2023', 'dom'], types: ['node'], strict: true, noEmit: true, skipLibCheck: false },
    files: ['use.mts', 'use.cts'],
  }));
  const r = await run(tsc, ['-p', join(dir, 'tsconfig.json')], { cwd: dir, encoding: 'utf8', env: cleanEnv() }).catch((e: { stdout: string; stderr: string }) => e);
  return `${r.stdout}${r.stderr}`.trim();
}
