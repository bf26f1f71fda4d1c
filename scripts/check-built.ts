/**
 * `prepack` of every published package: refuses to pack a package whose build is missing or
 * older than its sources, since the tarball would ship stale or no JavaScript.
 *
 *   node ../../scripts/check-built.ts <name>     (run by npm in packages/<name>/)
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const name = process.argv[2];
const dir = process.cwd();

/** Newest modification time of the files under `path` (0 when absent). */
function newest(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return readdirSync(path).reduce((n, f) => Math.max(n, newest(join(path, f))), 0);
}

const missing = ['dist', 'LICENSE', 'CHANGELOG.md', ...(name === 'server' ? ['admin-ui/dist/index.html'] : [])].filter((f) => !existsSync(join(dir, f)));
// A staged copy (scripts/build.ts --stage) has no src/: its build is what it is.
const stale = existsSync(join(dir, 'src')) && newest(join(dir, 'src')) > newest(join(dir, 'dist'));
if (missing.length > 0 || stale) {
  console.error(`@switchboard/${name}: ${missing.length ? `missing ${missing.join(', ')}` : 'dist/ is older than src/'}: run \`npm run build\` at the repository root first`);
  process.exit(1);
}
