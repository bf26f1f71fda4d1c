import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

/** Every TypeScript source file under `packages/<pkg>/src`. */
function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) out.push(p);
    }
  };
  for (const pkg of readdirSync(join(root, 'packages'))) walk(join(root, 'packages', pkg, 'src'));
  return out;
}

describe('architecture', () => {
  it('reads no private (`_`-prefixed) field of a library object', () => {
    // Our own code names nothing with a leading underscore, so any `._x` / `['_x']` is a
    // reach into another package's internals (e.g. ws's `_sender`, `_socket`).
    const hits: string[] = [];
    for (const file of sourceFiles()) {
      readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
        if (/\.\s*_[A-Za-z]\w*|\[\s*['"`]_[A-Za-z]/.test(line)) hits.push(`${relative(root, file)}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(hits).toEqual([]);
  });
});
