/**
 * A single `switchboard serve` caps V8's young generation as workers do (docs/performance.md):
 * started without a size, it restarts itself in place (same process id) with
 * `--max-semi-space-size=16`; an operator's own size is kept.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { startGatewayProcess, type GatewayProcess } from './support/gateway-process.ts';

const SECRET = 'lean-serve-secret-0123456789abcdef';
const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);

let gw: GatewayProcess | undefined;
afterEach(async () => {
  await gw?.stop();
  gw = undefined;
});

describe('serve, one process', () => {
  it('runs with the young generation capped, under the process id it was started with, and drains on SIGTERM', async () => {
    gw = await startGatewayProcess({ env: { SWITCHBOARD_JWT_SECRET: SECRET } });
    const args = cmdline(gw.proc.pid!);
    expect(args).toContain('--max-semi-space-size=16');
    expect(args).toContain('serve');
    expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
    expect(await gw.stop()).toBe(0);
    gw = undefined;
  });

  it('keeps a size the operator chose (NODE_OPTIONS)', async () => {
    gw = await startGatewayProcess({ env: { SWITCHBOARD_JWT_SECRET: SECRET, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --max-semi-space-size=8` } });
    expect(cmdline(gw.proc.pid!).some((a) => a.startsWith('--max-semi-space-size'))).toBe(false);
    expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
  });
});
