import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/** Where `admin-ui/build.ts` writes the admin UI (git-ignored). */
const DEFAULT_ASSETS_DIR = fileURLToPath(new URL('../../admin-ui/dist/', import.meta.url));

const TYPES = new Map<string, string>([
  ['.html', 'text/html; charset=utf-8'],
  ['.js', 'text/javascript; charset=utf-8'],
  ['.css', 'text/css; charset=utf-8'],
  ['.svg', 'image/svg+xml'],
  ['.map', 'application/json; charset=utf-8'],
]);

/** One file of the UI, with its gzip form (sent when the browser accepts it). */
export interface Asset {
  body: Buffer;
  gzip: Buffer;
  type: string;
}

/** The built UI: `index.html` and the content-hashed files under `assets/`. */
export interface AdminAssets {
  index: Asset;
  /** file name → asset (names carry a content hash: cacheable forever). */
  files: Map<string, Asset>;
}

const load = (path: string, type: string): Asset => {
  const body = readFileSync(path);
  return { body, gzip: gzipSync(body), type };
};

/**
 * Reads the built UI into memory (a few hundred KB) once, at start. Undefined when it was
 * not built (`node packages/server/admin-ui/build.ts`; `npm start` and `npm test` build it).
 */
export function loadAdminAssets(dir = DEFAULT_ASSETS_DIR): AdminAssets | undefined {
  const indexPath = join(dir, 'index.html');
  if (!existsSync(indexPath)) return undefined;
  const files = new Map<string, Asset>();
  const assetsDir = join(dir, 'assets');
  for (const name of existsSync(assetsDir) ? readdirSync(assetsDir) : []) {
    const type = TYPES.get(extname(name));
    if (type) files.set(name, load(join(assetsDir, name), type));
  }
  return { index: load(indexPath, TYPES.get('.html')!), files };
}
