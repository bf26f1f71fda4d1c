import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

/**
 * knip (`knip.jsonc`) finds unused files, exports, types and dependencies across the
 * workspaces. The suite keeps it clean, so a finding is something new to remove (or a
 * reason to write into knip.jsonc), never noise.
 */
describe('knip', () => {
  it('reports nothing: no unused file, export, type or dependency, and no configuration hint', () => {
    const bin = join(root, 'node_modules', 'knip', 'bin', 'knip.js');
    const r = spawnSync(process.execPath, [bin, '--no-progress'], { cwd: root, encoding: 'utf8', timeout: 300_000 });
    expect(r.error).toBeUndefined();
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.status).toBe(0);
  }, 320_000);
});
