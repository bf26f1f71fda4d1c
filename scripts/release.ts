/**
 * `npm run release`: builds every package, packs the tarballs into release/, and checks them
 * as a user gets them before anything is published (docs/releasing.md):
 *
 * 1. every package has the version of the root CHANGELOG's newest release, and the packages
 *    depend on each other at exactly that version;
 * 2. the tarballs install into an empty folder outside the repository; their entry points are
 *    JavaScript and declarations they hold; their dependencies are what their code imports;
 * 3. `npx switchboard serve --config …` answers /readyz and serves the admin UI on Node 22 and
 *    24, and with `--workers 2 --redis` (a redis-server it starts);
 * 4. the client publishes and receives from Node 20, 22 and 24 by import and require, and from
 *    Chromium by a classic script and an ES module; the declarations type-check.
 *
 * It publishes nothing: `npm publish release/<tarball>` for each, in the order printed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildAll } from './build.ts';
import { PACKAGES, ROOT } from './build/packages.ts';
import { installInEmptyFolder, nodeBinary, packAll } from './release/install.ts';
import { manifestProblems } from './release/manifests.ts';
import { releaseVersionProblems } from './release/versions.ts';
import { smokeTest } from './release/smoke.ts';

const step = (what: string) => console.error(`[release] ${what}`);
const fail = (problems: string[]) => {
  for (const p of problems) console.error(`[release] ✗ ${p}`);
  process.exit(1);
};

const versionProblems = releaseVersionProblems();
if (versionProblems.length) fail(versionProblems);
step('building');
const dirs = await buildAll();
step('packing into release/');
const tarballs = await packAll(dirs, join(ROOT, 'release'));
step('installing the tarballs into an empty folder');
const [dir, node20, node22] = await Promise.all([
  installInEmptyFolder(Object.values(tarballs), ['ws@8', 'react@19', '@types/react@19', '@types/node@22']),
  nodeBinary(20), nodeBinary(22),
]);
const manifests = PACKAGES.flatMap((name) => manifestProblems(join(dir, 'node_modules/@switchboard', name)));
if (manifests.length) fail(manifests);
const problems = await smokeTest({ dir, node20, node22, node24: process.execPath, tsc: join(ROOT, 'node_modules/.bin/tsc'), log: step });
if (problems.length) fail(problems);
const version = (JSON.parse(readFileSync(join(ROOT, 'packages/server/package.json'), 'utf8')) as { version: string }).version;
step(`✓ ${version}: every check passed. Publish in this order:`);
for (const name of PACKAGES) console.log(`npm publish ${tarballs[name]}`);
