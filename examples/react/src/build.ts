import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/**
 * Bundles the example (React, @switchboard/react and the SDK) into `outDir`: `index.html` and
 * `app.js`. `production` drops React's development checks (and strict mode's double effects).
 */
export async function buildExample(outDir: string, o: { production?: boolean } = {}): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [here('./main.tsx')],
    bundle: true, format: 'esm', platform: 'browser', target: 'es2022', jsx: 'automatic', logLevel: 'warning',
    // the workspace packages from their sources (DEVELOPERS.md); an application installs their builds
    conditions: ['switchboard-source'],
    define: { 'process.env.NODE_ENV': JSON.stringify(o.production ? 'production' : 'development') },
    minify: Boolean(o.production), sourcemap: !o.production,
    outfile: join(outDir, 'app.js'),
  });
  copyFileSync(here('../public/index.html'), join(outDir, 'index.html'));
}
