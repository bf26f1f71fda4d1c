import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cruise } from 'dependency-cruiser';

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

  it('keeps every source file under 600 lines', () => {
    const long = sourceFiles()
      .map((f) => [relative(root, f), readFileSync(f, 'utf8').split('\n').length] as const)
      .filter(([, n]) => n > 600);
    expect(long).toEqual([]);
  });

  it('has no import cycle in packages/*/src, type-only imports included', async () => {
    // dependency-cruiser parses with swc (TypeScript 7 has no compiler API for it to use);
    // tsPreCompilationDeps keeps `import type`, which a cycle check must see too.
    const pkgs = readdirSync(join(root, 'packages')).map((p) => `packages/${p}/src`);
    const { output } = await cruise(pkgs, {
      baseDir: root,
      parser: 'swc',
      tsPreCompilationDeps: true,
      doNotFollow: { path: 'node_modules' },
      validate: true,
      ruleSet: { forbidden: [{ name: 'no-circular', severity: 'error', from: {}, to: { circular: true } }] },
    });
    if (typeof output === 'string') throw new Error(output);
    expect(output.summary.totalCruised).toBeGreaterThan(100);
    const cycles = new Set(output.summary.violations.map((v) => [v.from, ...(v.cycle ?? []).map((c) => c.name)].join(' -> ')));
    expect([...cycles]).toEqual([]);
  }, 120_000);
});

