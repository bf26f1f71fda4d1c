/**
 * What an installed package's manifest promises, checked against what it holds: every entry
 * point (`exports` for `import`/`require`/`types`/`default`, `main`, `module`, `types`, `bin`)
 * is a file of the package, and JavaScript or a declaration, never TypeScript source; the
 * runtime dependencies are exactly the packages its JavaScript imports.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';

/** Runtime dependencies that a dependency loads, not our code: `ws` uses `bufferutil` when present. */
const LOADED_BY_A_DEPENDENCY = new Set(['bufferutil']);

/** The repository-only export condition: its targets (sources) are not in the tarball. */
const SOURCE_CONDITION = 'switchboard-source';

interface Manifest {
  name: string;
  main?: string; module?: string; types?: string;
  bin?: Record<string, string>;
  exports?: unknown;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

/** Every target of `exports` with its condition path, leaving out the source condition. */
function exportTargets(node: unknown, path: string[] = []): { path: string; target: string }[] {
  if (typeof node === 'string') return [{ path: path.join(' > '), target: node }];
  if (node === null || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([k, v]) => (k === SOURCE_CONDITION ? [] : exportTargets(v, [...path, k])));
}

const files = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]));

/** The bare packages the package's JavaScript imports or requires (node: built-ins left out). */
function importedPackages(dir: string): Set<string> {
  const out = new Set<string>();
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|\.resolve\s*\(\s*|^\s*import\s+)['"]([^'"./][^'"]*)['"]/gm;
  for (const file of files(dir).filter((f) => /\.(js|cjs|mjs)$/.test(f) && !f.includes('/admin-ui/') && !/switchboard\.m?js$/.test(f))) {
    for (const m of readFileSync(file, 'utf8').matchAll(re)) {
      const spec = m[1]!;
      if (spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0]!)) continue;
      out.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
    }
  }
  return out;
}

/** Problems with the installed package at `dir` (empty: none). */
export function manifestProblems(dir: string): string[] {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
  const problems: string[] = [];
  const entries = [
    ...exportTargets(pkg.exports).map((e) => ({ what: `exports ${e.path}`, target: e.target })),
    ...(['main', 'module', 'types'] as const).filter((k) => pkg[k]).map((k) => ({ what: k, target: pkg[k]! })),
    ...Object.entries(pkg.bin ?? {}).map(([k, v]) => ({ what: `bin ${k}`, target: v })),
  ];
  for (const { what, target } of entries) {
    if (!existsSync(join(dir, target))) problems.push(`${pkg.name}: ${what} → ${target} is not in the package`);
    else if (/\.(ts|tsx|mts|cts)$/.test(target) && !/\.d\.(ts|mts|cts)$/.test(target)) problems.push(`${pkg.name}: ${what} → ${target} is TypeScript source`);
  }
  const imported = importedPackages(dir);
  const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})]);
  for (const name of imported) if (!declared.has(name)) problems.push(`${pkg.name}: imports ${name}, which is not a dependency`);
  for (const name of declared) if (!imported.has(name) && !LOADED_BY_A_DEPENDENCY.has(name)) problems.push(`${pkg.name}: depends on ${name}, which its JavaScript never imports`);
  return problems;
}
