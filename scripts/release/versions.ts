/**
 * Versions before a release: every published package carries one version, the one of the
 * newest release in CHANGELOG.md, and the packages depend on each other at exactly it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGES, ROOT } from '../build/packages.ts';

interface Manifest { name: string; version: string; dependencies?: Record<string, string>; devDependencies?: Record<string, string>; peerDependencies?: Record<string, string> }

/** The newest released version in CHANGELOG.md (the first `## x.y.z` heading after `## Unreleased`). */
function changelogVersion(text = readFileSync(join(ROOT, 'CHANGELOG.md'), 'utf8')): string | undefined {
  return text.match(/^## (\d+\.\d+\.\d+(?:-[\w.]+)?)\s*$/m)?.[1];
}

/** What is wrong with the versions (empty: ready). */
export function releaseVersionProblems(): string[] {
  const manifests = PACKAGES.map((name) => JSON.parse(readFileSync(join(ROOT, 'packages', name, 'package.json'), 'utf8')) as Manifest);
  const version = changelogVersion();
  if (!version) return ['CHANGELOG.md has no "## x.y.z" release heading'];
  const problems: string[] = [];
  for (const m of manifests) {
    if (m.version !== version) problems.push(`${m.name} is ${m.version}, CHANGELOG.md's newest release is ${version}`);
    for (const deps of [m.dependencies, m.devDependencies, m.peerDependencies]) {
      for (const [dep, range] of Object.entries(deps ?? {})) {
        if (dep.startsWith('@switchboard/') && range !== version) problems.push(`${m.name} depends on ${dep}@${range}, not ${version}`);
      }
    }
  }
  return problems;
}
