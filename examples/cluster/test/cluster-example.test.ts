import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startRedis, type RedisProcess } from '../../../test/support/redis.ts';
import { startGatewayProcess, type GatewayProcess } from '../../../test/support/gateway-process.ts';

const DEMO = fileURLToPath(new URL('../demo.mjs', import.meta.url));
let redis: RedisProcess;
let nodes: GatewayProcess[];

beforeAll(async () => {
  redis = await startRedis();
  nodes = await Promise.all([0, 1, 2].map(() => startGatewayProcess({ args: ['--dev', '--redis', redis.url] })));
});
afterAll(async () => {
  await Promise.all((nodes ?? []).map((n) => n.kill()));
  await redis?.stop();
});

it('demo.mjs delivers across nodes and recovers on a third', () => {
  const r = spawnSync(process.execPath, [DEMO], { env: { ...process.env, NODES: nodes.map((n) => n.wsUrl).join(',') }, encoding: 'utf8', timeout: 20_000 });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/bob got on .*: \{"text":"hello from node A"\} \(offset 1\)/);
  expect(r.stdout).toMatch(/recovered=true, missed: "while you were away \(1\)", "while you were away \(2\)"/);
});
