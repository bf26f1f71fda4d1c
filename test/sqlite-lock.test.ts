import { afterAll, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGatewayProcess, type GatewayProcess } from './support/gateway-process.ts';
import { freePort } from './support/ports.ts';

const CLI = fileURLToPath(new URL('../packages/server/src/cli.ts', import.meta.url));
let first: GatewayProcess | undefined;
afterAll(() => first?.stop());

test('a second gateway on the same SQLite file refuses to start (it would hand out the same offsets); after a kill -9 the file is free again', async () => {
  const db = join(mkdtempSync(join(tmpdir(), 'sb-lock-')), 'switchboard.db');
  const args = ['--storage', `sqlite:${db}`, '--jwt-secret', 'lock-test-secret'];
  first = await startGatewayProcess({ args });
  const second = spawnSync(process.execPath, [CLI, 'serve', '--port', String(await freePort()), '--host', '127.0.0.1', ...args], {
    encoding: 'utf8', timeout: 120_000, env: { ...process.env, SWITCHBOARD_LOG_LEVEL: 'warn' },
  });
  expect(second.status).toBe(2);
  expect(second.stderr).toMatch(/in use by another Switchboard process/);
  expect(second.stderr).toMatch(/--redis/);
  // The operating system releases the lock with the process, even on SIGKILL: a restart works.
  await first.kill();
  await first.restart();
  expect((await fetch(`${first.url}/readyz`)).status).toBe(200);
}, 180_000); // three gateway starts in a row: slow on a loaded two-core machine
