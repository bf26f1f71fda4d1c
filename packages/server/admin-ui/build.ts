/**
 * Builds the admin web UI (docs/admin.md) into `dist/` (git-ignored): `index.html` and
 * content-hashed `assets/*.js|css` (the gateway caches those forever and the page never).
 * Preact and uPlot are bundled in: nothing is loaded from elsewhere, so it works offline.
 *
 *   node packages/server/admin-ui/build.ts            # build when a source is newer than dist/
 *   node packages/server/admin-ui/build.ts --force    # build always
 *
 * `scripts/ensure-deps.sh` (so `npm start` and `npm test`) runs the first form.
 */
import { build } from 'esbuild';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** Where the UI is written (the gateway reads it from there; see src/admin/assets.ts). */
export const OUT_DIR = join(here, 'dist');
const SRC = join(here, 'src');

function newestSource(): number {
  let newest = statSync(fileURLToPath(import.meta.url)).mtimeMs;
  const walk = (dir: string) => {
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else newest = Math.max(newest, st.mtimeMs);
    }
  };
  walk(SRC);
  return newest;
}

/** True when `dist/` is missing or older than a source file. */
export function adminUiStale(out = OUT_DIR): boolean {
  const index = join(out, 'index.html');
  return !existsSync(index) || statSync(index).mtimeMs < newestSource();
}

/**
 * Bundles and minifies the UI into a fresh directory next to `out`, then swaps it in with a
 * rename, so a gateway (or a parallel test) never reads a half-written build.
 */
export async function buildAdminUi(out = OUT_DIR): Promise<{ bytes: number }> {
  const tmp = `${out}.tmp-${process.pid}-${Date.now()}`;
  mkdirSync(join(tmp, 'assets'), { recursive: true });
  const result = await build({
    entryPoints: [join(SRC, 'main.tsx')],
    bundle: true, minify: true, format: 'esm', platform: 'browser', target: 'es2022',
    jsx: 'automatic', jsxImportSource: 'preact',
    entryNames: '[name]-[hash]', assetNames: '[name]-[hash]',
    outdir: join(tmp, 'assets'), metafile: true, logLevel: 'warning', legalComments: 'none',
  });
  const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p));
  const js = outputs.find((f) => f.endsWith('.js'));
  const css = outputs.find((f) => f.endsWith('.css'));
  if (!js || !css) throw new Error(`admin UI build: expected a .js and a .css output, got ${outputs.join(', ')}`);
  const html = readFileSync(join(SRC, 'index.html'), 'utf8').replace('%CSS%', `/admin/assets/${css}`).replace('%JS%', `/admin/assets/${js}`);
  writeFileSync(join(tmp, 'index.html'), html);
  const bytes = outputs.reduce((n, f) => n + statSync(join(tmp, 'assets', f)).size, 0);
  const old = `${out}.old-${process.pid}-${Date.now()}`;
  // A parallel build (another test process) may swap its own output in meanwhile: the same
  // sources give the same files, so whichever lands is fine.
  try {
    renameSync(out, old);
  } catch { /* no previous build, or another process moved it */ }
  try {
    renameSync(tmp, out);
  } catch {
    rmSync(tmp, { recursive: true, force: true });
  }
  rmSync(old, { recursive: true, force: true });
  return { bytes };
}

/** Builds when stale; what tests call before starting a gateway with the admin UI. */
export async function ensureAdminUi(out = OUT_DIR): Promise<void> {
  if (adminUiStale(out)) await buildAdminUi(out);
}

if (import.meta.main) {
  if (process.argv.includes('--force') || adminUiStale()) {
    const { bytes } = await buildAdminUi();
    console.error(`[switchboard] built the admin UI (${Math.round(bytes / 1024)} KB) into ${OUT_DIR}`);
  }
}
