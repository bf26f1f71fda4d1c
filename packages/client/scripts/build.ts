/**
 * Builds the publishable @switchboard/client into `dist/` (or the directory given as the
 * first argument):
 *
 * - `index.js` (ESM) and `index.cjs` (CommonJS) for bundlers and Node, with the protocol
 *   package and fossil-delta bundled in (no runtime dependencies);
 * - `switchboard.browser.js`: one minified ESM file for `<script type="module">`;
 * - `index.d.ts` / `index.d.cts` and `types/`: declarations emitted by `tsc`;
 * - `package.json` with the published entry points, and the README.
 *
 * Publish the output directory (`npm publish packages/client/dist`): the workspace's own
 * package.json points at `src/` so that in-repo code runs without a build.
 */
import { build, type BuildOptions } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, copyFileSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = resolve(process.argv[2] ?? join(pkgDir, 'dist'));
const entry = join(pkgDir, 'src/index.ts');
const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

// `mainFields`: the neutral platform resolves none by default, and fossil-delta (bundled in)
// declares only `main`.
const common: BuildOptions = { entryPoints: [entry], bundle: true, target: 'es2022', sourcemap: true, logLevel: 'warning', mainFields: ['module', 'main'] };
await Promise.all([
  build({ ...common, format: 'esm', platform: 'neutral', outfile: join(out, 'index.js') }),
  build({ ...common, format: 'cjs', platform: 'neutral', outfile: join(out, 'index.cjs') }),
  build({ ...common, format: 'esm', platform: 'browser', minify: true, outfile: join(out, 'switchboard.browser.js') }),
]);

// Declarations: tsc emits client and protocol declarations side by side under types/;
// the client's imports of the (bundled) protocol package become relative.
const tsc = join(pkgDir, '../../node_modules/.bin/tsc');
const r = spawnSync(tsc, ['-p', join(pkgDir, 'tsconfig.build.json'), '--outDir', join(out, 'types')], { stdio: 'inherit' });
if (r.status !== 0) throw new Error(`tsc failed (exit ${r.status})`);
const protocolIndex = join(out, 'types/protocol/src/index.js');
const walk = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? walk(join(dir, f)) : [join(dir, f)]));
for (const file of walk(join(out, 'types')).filter((f) => f.endsWith('.d.ts'))) {
  const rel = relative(dirname(file), protocolIndex).replace(/\\/g, '/');
  const text = readFileSync(file, 'utf8')
    .replace(/(['"])@switchboard\/protocol\1/g, `'${rel.startsWith('.') ? rel : `./${rel}`}'`)
    .replace(/(from\s+['"]\.{1,2}\/[^'"]+)\.ts(['"])/g, '$1.js$2');
  writeFileSync(file, text);
}
writeFileSync(join(out, 'index.d.ts'), "export * from './types/client/src/index.js';\n");
writeFileSync(join(out, 'index.d.cts'), "export * from './types/client/src/index.js';\n");

writeFileSync(join(out, 'package.json'), `${JSON.stringify({
  name: pkg.name,
  version: pkg.version,
  description: pkg.description,
  license: pkg.license,
  type: 'module',
  main: './index.cjs',
  module: './index.js',
  types: './index.d.ts',
  exports: {
    '.': {
      import: { types: './index.d.ts', default: './index.js' },
      require: { types: './index.d.cts', default: './index.cjs' },
    },
    './browser': './switchboard.browser.js',
    './package.json': './package.json',
  },
  sideEffects: false,
  engines: pkg.engines,
}, null, 2)}\n`);
const readme = join(pkgDir, '../../docs/client.md');
if (existsSync(readme)) copyFileSync(readme, join(out, 'README.md'));
console.log(`built ${relative(process.cwd(), out) || '.'}`);
