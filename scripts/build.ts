/**
 * `npm run build`: everything a deployment or a publication needs, into each published
 * package's `dist/` (git-ignored): the server as JavaScript with its declarations and admin UI,
 * the client's Node and browser bundles, react, api-client and protocol (docs/releasing.md).
 *
 *   node scripts/build.ts                # in place: packages/<name>/dist, then `npm pack -w packages/<name>`
 *   node scripts/build.ts --stage DIR    # copies of the packages with their builds in DIR/<name>/ (npm pack DIR/<name>)
 *
 * The repository itself never needs a build: it runs the TypeScript sources (DEVELOPERS.md).
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PACKAGES, ROOT, buildPackage, type PackageName } from './build/packages.ts';

/** What every package ships beside its dist/, copied from the repository root. */
const SHARED_FILES = ['LICENSE', 'CHANGELOG.md'];
/** What a staged copy of a package takes from packages/<name>/ (besides its build). */
const PACKAGE_FILES = ['package.json', 'README.md', 'bin'];

/**
 * Builds every published package into `stage` (default: packages/, in place) and returns the
 * package directories, ready for `npm pack`.
 */
export async function buildAll(stage = join(ROOT, 'packages')): Promise<Record<PackageName, string>> {
  const inPlace = resolve(stage) === join(ROOT, 'packages');
  const dirs = {} as Record<PackageName, string>;
  for (const name of PACKAGES) {
    const dir = join(stage, name);
    dirs[name] = dir;
    if (!inPlace) {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      for (const f of PACKAGE_FILES.filter((f) => existsSync(join(ROOT, 'packages', name, f)))) cpSync(join(ROOT, 'packages', name, f), join(dir, f), { recursive: true });
    }
    for (const f of SHARED_FILES) copyFileSync(join(ROOT, f), join(dir, f));
  }
  // protocol and api-client first (the server's declarations import theirs), then the rest side by side.
  await Promise.all([buildPackage('protocol', stage), buildPackage('api-client', stage)]);
  await Promise.all([buildPackage('client', stage), buildPackage('server', stage)]);
  await buildPackage('react', stage);
  return dirs;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { stage: { type: 'string' } } });
  const started = Date.now();
  const dirs = await buildAll(values.stage ? resolve(values.stage) : undefined);
  console.error(`[switchboard] built ${Object.keys(dirs).length} packages in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
