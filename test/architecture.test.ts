import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cruise } from 'dependency-cruiser';
import { LAYERS, UPWARD_EDGES, layerOf } from './layers.ts';

const root = join(import.meta.dirname, '..');

/** Every TypeScript file under the given directories (node_modules and build output left out). */
function tsFiles(dirs: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name === 'dist') continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) out.push(p);
    }
  };
  for (const d of dirs) walk(d);
  return out;
}

const packages = readdirSync(join(root, 'packages'));
/** Every TypeScript source file under `packages/<pkg>/src`. */
const sourceFiles = () => tsFiles(packages.map((pkg) => join(root, 'packages', pkg, 'src')));
/** Every test and test-support file: the packages', the cross-package ones, the examples', the bench's. */
const testFiles = () => tsFiles([
  ...packages.map((pkg) => join(root, 'packages', pkg, 'test')),
  join(root, 'test'),
  ...readdirSync(join(root, 'examples')).map((ex) => join(root, 'examples', ex, 'test')),
  join(root, 'bench'),
]).filter((f) => f !== import.meta.filename);

describe('architecture', () => {
  it('reads no private (`_`-prefixed) field of a library object, in sources, tests or benches', () => {
    // Our own code names nothing with a leading underscore, so any `._x` / `['_x']` is a
    // reach into another package's internals (e.g. ws's `_sender`, `_socket`).
    const hits: string[] = [];
    const tests = testFiles();
    expect(tests.length).toBeGreaterThan(100); // the tests are scanned too
    for (const file of [...sourceFiles(), ...tests]) {
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

  it('keeps packages/server/src in its documented layers: no upward import but those listed with a reason', async () => {
    const { output } = await cruise(['packages/server/src'], {
      baseDir: root, parser: 'swc', tsPreCompilationDeps: true, doNotFollow: { path: 'node_modules' },
    });
    if (typeof output === 'string') throw new Error(output);
    const pre = 'packages/server/src/';
    const upward: string[] = [];
    let edges = 0;
    for (const m of output.modules) {
      if (!m.source.startsWith(pre)) continue;
      const from = m.source.slice(pre.length);
      for (const d of m.dependencies) {
        if (!d.resolved.startsWith(pre)) continue;
        edges++;
        const to = d.resolved.slice(pre.length);
        if (layerOf(to) < layerOf(from)) upward.push(`${from} -> ${to}`);
      }
    }
    expect(edges).toBeGreaterThan(300);
    const unexplained = upward.filter((e) => !UPWARD_EDGES.has(e)).map((e) => {
      const [from, to] = e.split(' -> ') as [string, string];
      return `${e}: "${LAYERS[layerOf(from)]!.name}" imports "${LAYERS[layerOf(to)]!.name}"`;
    });
    expect(unexplained, 'an import against the layers (docs/architecture.md): move the code, or list the edge with its reason in test/layers.ts').toEqual([]);
    // The list stays true: every edge it explains still exists.
    expect([...UPWARD_EDGES.keys()].filter((e) => !upward.includes(e))).toEqual([]);
  }, 120_000);

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

