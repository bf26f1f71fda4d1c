import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Keeps the soak (`npm run soak`, docs/reliability.md) from rotting: a short run against the
 * real gateway process must pass, with subscribers dropped and recovering by the documented
 * position rule; and a run whose own subscribers are made to drop a message and to recover
 * from a wrong epoch must fail, naming both (the checker can see loss and `recovered: false`).
 */
const SOAK = fileURLToPath(new URL('./soak.ts', import.meta.url));

function soak(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SOAK, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    // A run that hangs is stopped (the soak then stops its gateway) and fails below.
    const guard = setTimeout(() => child.kill('SIGTERM'), 150_000);
    child.on('exit', (code) => {
      clearTimeout(guard);
      resolve({ code, out });
    });
  });
}

const short = ['--rate', '200', '--subscribers', '8', '--churn', '4', '--kill-every', '2', '--report-every', '5'];

describe('soak harness', () => {
  it('passes a short run, with recoveries; fails a run with injected loss and a stale position, naming both', async () => {
    const [good, bad] = await Promise.all([
      soak(['--minutes', '0.25', ...short]),
      soak(['--minutes', '0.1', ...short, '--inject', 'loss,stale']),
    ]);
    expect(good.out).toMatch(/^PASS: /m);
    expect(good.code, good.out).toBe(0);
    expect(good.out).toMatch(/lost: 0; duplicates: 0/);
    const recovered = Number(/subscriber recoveries: (\d+) recovered, 0 recovered: false/.exec(good.out)?.[1]);
    expect(recovered, good.out).toBeGreaterThan(0);

    expect(bad.code, bad.out).toBe(1);
    expect(bad.out).toMatch(/^FAIL: 1 acknowledged deliveries missing; 1 recoveries answered recovered: false$/m);
  }, 180_000);
});
