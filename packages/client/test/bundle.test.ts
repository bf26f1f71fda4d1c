import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGateway, token } from '../../server/test/helpers.ts';
import { NAMESPACES, buildClient } from './helpers.ts';

type Gateway = Awaited<ReturnType<typeof startGateway>>;
let gw: Gateway;
let dist: string;
let consumer: string;

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** A script that connects with the built package, subscribes, publishes and prints what it got. */
const script = (load: string) => `${load}
const c = new Switchboard(process.env.WS, { token: process.env.TOKEN, reconnect: { minDelayMs: 50 } });
const sub = c.subscribe('chat:bundle-' + process.env.KIND);
const got = new Promise((resolve) => sub.on('message', (m) => resolve(m)));
sub.ready().then(() => c.publish('chat:bundle-' + process.env.KIND, { kind: process.env.KIND })).then(async (ack) => {
  const m = await got;
  console.log(JSON.stringify({ ack, data: m.data, state: c.state, terminal: isTerminalCloseCode(3504) }));
  c.close();
});
`;

beforeAll(async () => {
  [gw, dist] = await Promise.all([startGateway({ namespaces: NAMESPACES }), buildClient()]);
  // a consumer project with the built package installed under its published name
  consumer = join(dirname(dist), 'consumer');
  mkdirSync(join(consumer, 'node_modules/@switchboard'), { recursive: true });
  symlinkSync(dist, join(consumer, 'node_modules/@switchboard/client'), 'dir');
  writeFileSync(join(consumer, 'esm.mjs'), script("import { Switchboard, isTerminalCloseCode } from '@switchboard/client';"));
  writeFileSync(join(consumer, 'cjs.cjs'), script("const { Switchboard, isTerminalCloseCode } = require('@switchboard/client');"));
}, 60_000);
afterAll(() => gw.close());

describe('the built package', () => {
  it('has ESM, CJS, browser bundle and types, and no runtime dependencies', () => {
    const pkg = JSON.parse(readFileSync(join(dist, 'package.json'), 'utf8'));
    expect(pkg.name).toBe('@switchboard/client');
    expect(pkg.dependencies).toBeUndefined();
    expect(pkg.exports['.'].import.default).toBe('./index.js');
    expect(pkg.exports['.'].require.default).toBe('./index.cjs');
    const esm = readFileSync(join(dist, 'index.js'), 'utf8');
    expect(esm).not.toMatch(/from\s*["']@switchboard\/protocol["']|require\(["']@switchboard/);
    expect(readFileSync(join(dist, 'switchboard.browser.js'), 'utf8')).not.toMatch(/require\(|node:/);
  });

  for (const kind of ['esm', 'cjs'] as const) {
    it(`works from Node by its published name (${kind === 'esm' ? 'import' : 'require'})`, async () => {
      // async: the gateway runs in this process and must keep serving while the child runs
      const r = await promisify(execFile)(process.execPath, [join(consumer, kind === 'esm' ? 'esm.mjs' : 'cjs.cjs')], {
        cwd: consumer, encoding: 'utf8', timeout: 20_000,
        env: { ...process.env, WS: gw.wsUrl, TOKEN: await token(`bundle-${kind}`), KIND: kind },
      });
      expect(r.stderr).toBe('');
      const out = JSON.parse(r.stdout);
      expect(out).toMatchObject({ ack: { offset: 1, duplicate: false }, data: { kind }, state: 'connected', terminal: true });
    });
  }

  it('its declarations type-check in a strict consumer (ESM and CJS)', () => {
    const use = `import { Switchboard, SwitchboardError, type Publication } from '@switchboard/client';
const c = new Switchboard('wss://example.com/ws', { token: async () => 't', offlineQueue: { max: 10, overflow: 'reject-oldest' } });
c.on('disconnected', (e) => { const n: number | null = e.reconnectInMs; void n; });
const s = c.subscribe('chat:x');
s.on('gap', (g) => g.previous.offset + g.offset);
s.on('message', (m: Publication) => m.offset);
c.publish('chat:x', 1).then((r) => r.offset, (e: SwitchboardError) => e.code);
// @ts-expect-error unknown event names do not compile
c.on('nope', () => {});
`;
    writeFileSync(join(consumer, 'use.mts'), use);
    writeFileSync(join(consumer, 'use.cts'), use);
    writeFileSync(join(consumer, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022', 'dom'], types: [], strict: true, noEmit: true, skipLibCheck: false },
      files: ['use.mts', 'use.cts'],
    }));
    const r = spawnSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', join(consumer, 'tsconfig.json')], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
