import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startGateway } from '../helpers.ts';

const KEY = 'openapi-key-0123456789';
let gw: Awaited<ReturnType<typeof startGateway>>;
let doc: any;

/** Every route fastify actually serves, as "METHOD /path" (from its own route table). */
function servedRoutes(): Set<string> {
  const out = new Set<string>();
  for (const line of gw.http.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /(\/\S*) \(([A-Z, ]+)\)/.exec(line);
    if (!m) continue;
    for (const method of m[2]!.split(', ')) if (method !== 'HEAD') out.add(`${method} ${m[1]}`);
  }
  return out;
}

beforeAll(async () => {
  gw = await startGateway({ apiKeys: [KEY], namespaces: { chat: {} } });
  const res = await fetch(`${gw.url}/api/openapi.json`);
  expect(res.status).toBe(200);
  doc = await res.json();
});

afterAll(async () => {
  await gw.close();
});

it('documents every /api route the server serves (but the document itself), and serves every documented route', () => {
  const served = [...servedRoutes()].filter((r) => r.split(' ')[1]!.startsWith('/api/') && r !== 'GET /api/openapi.json');
  const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
    .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
  expect(served.length).toBeGreaterThanOrEqual(11);
  expect(new Set(documented)).toEqual(new Set(served));
});

it('every documented POST answers with its key (not 404), and its error shape is documented', async () => {
  expect(doc.openapi).toBe('3.1.0');
  expect(doc.components.schemas.Error.properties.error.required).toEqual(['code', 'message']);
  for (const [path, ops] of Object.entries(doc.paths as Record<string, any>)) {
    if (!ops.post) continue;
    const res = await fetch(`${gw.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': KEY }, body: '{}' });
    expect({ path, ok: res.status === 200 || res.status === 400 }).toEqual({ path, ok: true });
    expect(ops.post.responses['401'].content['application/json'].schema.$ref).toBe('#/components/schemas/Error');
    expect(ops.post.responses['415'].content['application/json'].schema.$ref).toBe('#/components/schemas/Error');
    const wrongType = await fetch(`${gw.url}${path}`, { method: 'POST', headers: { 'content-type': 'text/plain', 'x-api-key': KEY }, body: '{}' });
    expect({ path, status: wrongType.status }).toEqual({ path, status: 415 });
    expect(ops.post.requestBody.content['application/json'].schema.type).toBe('object');
  }
});

it('request schemas come from the validators: required fields and limits match', () => {
  const publish = doc.paths['/api/publish'].post.requestBody.content['application/json'].schema;
  expect(publish.required).toEqual(['channel', 'data']);
  expect(publish.additionalProperties).toBe(false);
  const disconnect = doc.paths['/api/disconnect'].post.requestBody.content['application/json'].schema;
  expect(disconnect.properties.code).toMatchObject({ minimum: 3000, maximum: 4999, default: 3503 });
  const push = doc.paths['/api/push'].post.requestBody.content['application/json'].schema;
  expect(push.properties.type.enum).toEqual(['single', 'room', 'all']);
  expect(doc.paths['/api/history'].post.responses['410']).toBeDefined();
});

it('lints clean with Redocly CLI (recommended rules: no error, no warning), offline', () => {
  expect(doc.servers).toEqual([{ url: '/', description: expect.any(String) }]);
  expect(doc.info.license).toEqual({ name: 'MIT', identifier: 'MIT' });
  const dir = mkdtempSync(join(tmpdir(), 'sb-openapi-'));
  try {
    const file = join(dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(doc, null, 2));
    const cli = join(dirname(createRequire(import.meta.url).resolve('@redocly/cli/package.json')), 'bin', 'cli.js');
    const r = spawnSync(process.execPath, [cli, 'lint', '--extends', 'recommended', '--format', 'stylish', file], {
      cwd: dir, encoding: 'utf8', timeout: 60_000,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
    });
    const out = `${r.stdout}${r.stderr}`;
    expect(r.status, out).toBe(0);
    expect(out).toMatch(/openapi\.json: validated/);
    expect(out).not.toMatch(/warning|error/i);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
