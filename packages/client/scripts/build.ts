/**
 * Builds @switchboard/client into `dist/` (or the directory given as the first argument), the
 * files its package.json points at:
 *
 * - `index.js` (ESM) and `index.cjs` (CommonJS) for bundlers and Node 20+, with the protocol
 *   package and fossil-delta bundled in (the published package has no runtime dependencies);
 * - `switchboard.mjs`: one minified ES module for browsers (`<script type="module">`,
 *   `import { Switchboard } from '/switchboard.mjs'`);
 * - `switchboard.js`: one minified classic script (`<script src>`) defining
 *   `window.Switchboard` (the client class, with every other export as its property:
 *   `Switchboard.SwitchboardError`, `Switchboard.isTerminalCloseCode`…);
 * - `index.d.ts` / `index.d.cts` and `types/`: declarations emitted by `tsc`.
 *
 * In the repository nothing needs this (the workspace resolves to `src/`); `npm run build`
 * runs it, and the gateway can serve the two browser files as they are.
 */
import { build, type BuildOptions } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** esbuild options every bundle of the client shares. */
const common: BuildOptions = {
  // `mainFields`: the neutral platform resolves none by default, and fossil-delta (bundled in)
  // declares only `main`. The source condition: the protocol package from its sources.
  bundle: true, target: 'es2022', sourcemap: true, logLevel: 'warning', legalComments: 'none',
  mainFields: ['module', 'main'], conditions: ['switchboard-source'],
};

/**
 * The two browser files (`switchboard.mjs`, `switchboard.js`, with their maps) into `out`, and
 * nothing else: what the gateway serves at `GET /switchboard.js` (tests build only these).
 */
export async function buildBrowserBundles(out: string): Promise<void> {
  mkdirSync(out, { recursive: true });
  await Promise.all([
    build({ ...common, entryPoints: [join(pkgDir, 'src/index.ts')], format: 'esm', platform: 'browser', minify: true, outfile: join(out, 'switchboard.mjs') }),
    build({
      ...common, format: 'iife', platform: 'browser', minify: true, outfile: join(out, 'switchboard.js'),
      stdin: {
        contents: "import * as sdk from './src/index.ts';\nglobalThis.Switchboard = Object.assign(sdk.Switchboard, sdk);\n",
        resolveDir: pkgDir, sourcefile: 'switchboard-global.ts', loader: 'ts',
      },
    }),
  ]);
}

/** Builds the client into `out` (emptied first). */
export async function buildClientPackage(out: string): Promise<void> {
  const entry = join(pkgDir, 'src/index.ts');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  await Promise.all([
    build({ ...common, entryPoints: [entry], format: 'esm', platform: 'neutral', outfile: join(out, 'index.js') }),
    build({ ...common, entryPoints: [entry], format: 'cjs', platform: 'neutral', outfile: join(out, 'index.cjs') }),
    buildBrowserBundles(out),
  ]);
  emitDeclarations(out);
}

/**
 * tsc emits client and protocol declarations side by side under `types/`; the client's imports
 * of the (bundled) protocol package become relative.
 */
function emitDeclarations(out: string): void {
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
}

if (import.meta.main) {
  const out = resolve(process.argv[2] ?? join(pkgDir, 'dist'));
  await buildClientPackage(out);
  console.error(`built ${relative(process.cwd(), out) || '.'}`);
}
